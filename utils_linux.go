package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer"
	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/specconv"
)

const (
	exactArgs = iota
	minArgs
	maxArgs
)

// checkArgs checks the number of positional arguments, as runc does.
func checkArgs(ctx *cli.Context, expected, check int) error {
	var err error
	cmdName := ctx.Command.Name
	switch check {
	case exactArgs:
		if ctx.NArg() != expected {
			err = fmt.Errorf("%s: %q requires exactly %d argument(s)",
				os.Args[0], cmdName, expected)
		}
	case minArgs:
		if ctx.NArg() < expected {
			err = fmt.Errorf("%s: %q requires a minimum of %d argument(s)",
				os.Args[0], cmdName, expected)
		}
	case maxArgs:
		if ctx.NArg() > expected {
			err = fmt.Errorf("%s: %q requires a maximum of %d argument(s)",
				os.Args[0], cmdName, expected)
		}
	}
	if err != nil {
		fmt.Printf("Incorrect Usage.\n\n")
		_ = cli.ShowCommandHelp(ctx, cmdName)
		return err
	}
	return nil
}

// rootDir is --root, made absolute.
func rootDir(ctx *cli.Context) (string, error) {
	root := ctx.GlobalString("root")
	if root == "" {
		return "", errors.New("--root must not be empty")
	}
	return filepath.Abs(root)
}

// getContainer loads the container named by the first argument.
func getContainer(ctx *cli.Context) (*libcontainer.Container, error) {
	id := ctx.Args().First()
	if id == "" {
		return nil, errors.New("container id cannot be empty")
	}
	root, err := rootDir(ctx)
	if err != nil {
		return nil, err
	}
	return libcontainer.Load(root, id)
}

// isRootless decides --rootless: "auto" means rootless when not root
// (or root in a user namespace without the whole id range mapped).
func isRootless(ctx *cli.Context) (bool, error) {
	switch v := ctx.GlobalString("rootless"); v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		if os.Geteuid() != 0 {
			return true, nil
		}
		return inUserNamespace(), nil
	default:
		return false, fmt.Errorf("invalid --rootless value %q", v)
	}
}

// honorXDGRuntimeDir reports whether the default --root goes under
// $XDG_RUNTIME_DIR, as runc decides: for a user other than root, and for
// root of a user namespace that a user other than root set up (rootlesskit,
// `unshare -r`), where $USER still names that user. The real root keeps
// /run/towel even with an XDG_RUNTIME_DIR of /run/user/0.
func honorXDGRuntimeDir() bool {
	if os.Geteuid() != 0 {
		return true
	}
	if !inUserNamespace() {
		return false
	}
	u, ok := os.LookupEnv("USER")
	return !ok || u != "root"
}

// inUserNamespace reports whether we run in a user namespace other than
// the initial one, whose uid_map is "0 0 4294967295".
func inUserNamespace() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	var a, b, c uint64
	n, _ := fmt.Sscanf(string(data), "%d %d %d", &a, &b, &c)
	return !(n == 3 && a == 0 && b == 0 && c == 4294967295)
}

// loadConfig reads the bundle's config.json and converts it.
func loadConfig(ctx *cli.Context, id string) (*configs.Config, error) {
	bundle := ctx.String("bundle")
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	spec, err := specconv.LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	rootless, err := isRootless(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := specconv.Convert(spec, &specconv.Opts{
		Bundle:        bundle,
		ID:            id,
		NoPivotRoot:   ctx.Bool("no-pivot"),
		NoNewKeyring:  ctx.Bool("no-new-keyring"),
		SystemdCgroup: ctx.GlobalBool("systemd-cgroup"),
		Rootless:      rootless,
	})
	if err != nil {
		return nil, err
	}
	v2 := cgroups.IsCgroup2UnifiedMode()
	for _, w := range cgroups.Warnings(cfg.Cgroup.Resources, v2) {
		logrus.Warn(w)
	}
	return cfg, nil
}

// writePidFile writes pid to path atomically (temp file and rename), so
// a reader never sees a partial number.
func writePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	err = os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644)
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// destroy removes a container, logging rather than failing.
func destroy(c *libcontainer.Container) {
	if err := c.Destroy(); err != nil {
		logrus.Error(err)
	}
}
