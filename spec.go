package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer/specconv"
)

// specConfig is the name of a bundle's configuration file.
const specConfig = "config.json"

var specCommand = cli.Command{
	Name:      "spec",
	Usage:     "create a new specification file",
	ArgsUsage: "",
	Description: `The spec command writes a starter config.json into the bundle
directory (the current directory unless --bundle says otherwise). It is the
same document runc 1.2 writes: an interactive "sh" in a read-only "rootfs"
directory next to config.json, in new pid, network, ipc, uts and mount
namespaces (and cgroup, on a cgroup v2 host), with a few capabilities.

An existing config.json is never overwritten.

Example, with busybox as the root file system:

    mkdir -p bundle/rootfs && cd bundle
    cp /bin/busybox rootfs/ && rootfs/busybox --install -s rootfs
    towel spec
    towel run demo

With --rootless the spec maps the caller's uid and gid to root in a new
user namespace, drops the network namespace and resource limits, and binds
the host's /sys, so that an unprivileged user can run it.`,
	Flags: []cli.Flag{
		cli.StringFlag{
			Name:  "bundle, b",
			Value: "",
			Usage: "path to the root of the bundle directory",
		},
		cli.BoolFlag{
			Name:  "rootless",
			Usage: "generate a configuration for a rootless container",
		},
	},
	Action: func(context *cli.Context) error {
		if context.NArg() != 0 {
			return fmt.Errorf("%s: %q requires exactly 0 argument(s)",
				os.Args[0], "spec")
		}

		spec := specconv.Example()
		if context.Bool("rootless") {
			specconv.ToRootless(spec)
		}
		data, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			return fmt.Errorf("encode spec: %w", err)
		}

		path := filepath.Join(context.String("bundle"), specConfig)
		return writeNewFile(path, data)
	},
}

// writeNewFile writes data to a file at path that must not exist yet.
// O_EXCL makes the check and the creation one step, so a config.json
// made by someone else in between is not overwritten either.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrExist) {
		// runc's wording, which scripts around runc may look for.
		return fmt.Errorf("File %s exists. Remove it first",
			filepath.Base(path))
	}
	if err != nil {
		return err
	}

	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
