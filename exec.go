package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer"
)

var execCommand = cli.Command{
	Name:  "exec",
	Usage: "execute new process inside the container",
	ArgsUsage: `<container-id> <command> [command options]  || -p process.json <container-id>

Where "<container-id>" is the name for the instance of the container and
"<command>" is the command to be executed in the container.
"<command>" can't be empty unless a "-p" flag provided.

EXAMPLE:
For example, if the container is configured to run the linux ps command the
following will output a list of processes running in the container:

       # runc exec <container-id> ps`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "console-socket",
			Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		cli.StringFlag{Name: "pidfd-socket",
			Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
		cli.StringFlag{Name: "cwd",
			Usage: "current working directory in the container"},
		cli.StringSliceFlag{Name: "env, e",
			Usage: "set environment variables"},
		cli.BoolFlag{Name: "tty, t", Usage: "allocate a pseudo-TTY"},
		cli.StringFlag{Name: "user, u",
			Usage: "UID (format: <uid>[:<gid>])"},
		cli.Int64SliceFlag{Name: "additional-gids, g",
			Usage: "additional gids"},
		cli.StringFlag{Name: "process, p",
			Usage: "path to the process.json"},
		cli.BoolFlag{Name: "detach, d",
			Usage: "detach from the container's process"},
		cli.StringFlag{Name: "pid-file",
			Usage: "specify the file to write the process id to"},
		cli.StringFlag{Name: "process-label",
			Usage: "set the asm process label for the process commonly used with selinux"},
		cli.StringFlag{Name: "apparmor",
			Usage: "set the apparmor profile for the process"},
		cli.BoolFlag{Name: "no-new-privs",
			Usage: "set the no new privileges value for the process"},
		cli.StringSliceFlag{Name: "cap, c",
			Usage: "add a capability to the bounding set for the process"},
		cli.IntFlag{Name: "preserve-fds",
			Usage: "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
		cli.StringSliceFlag{Name: "cgroup",
			Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
		cli.BoolFlag{Name: "ignore-paused",
			Usage: "allow exec in a paused container"},
		cli.StringFlag{Name: "umask",
			Usage: "set the umask of the process (octal, e.g. 0027)"},
	},
	// Flags after the command belong to the command.
	SkipArgReorder: true,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, minArgs); err != nil {
			return err
		}
		status, err := execProcess(ctx)
		if err != nil {
			// runc exits 255 when exec itself fails, so a caller can
			// tell that from the process's own status.
			fatalWithCode(fmt.Errorf("exec failed: %w", err), 255)
		}
		os.Exit(status)
		return nil
	},
}

// execProcess starts the process and, in the foreground, waits for it and
// returns its exit status.
func execProcess(ctx *cli.Context) (int, error) {
	c, err := getContainer(ctx)
	if err != nil {
		return -1, err
	}
	status, err := c.Status()
	if err != nil {
		return -1, err
	}
	switch status {
	case libcontainer.Stopped:
		return -1, errors.New("cannot exec in a stopped container")
	case libcontainer.Paused:
		if !ctx.Bool("ignore-paused") {
			return -1, errors.New("cannot exec in a paused container " +
				"(use --ignore-paused to override)")
		}
	case libcontainer.Creating:
		return -1, errors.New("cannot exec in a container that is " +
			"still being created")
	}
	cfg := c.Config()
	p, err := execSpec(ctx, cfg.Process)
	if err != nil {
		return -1, err
	}
	subCgroups, err := parseSubCgroups(uniq(ctx.StringSlice("cgroup")))
	if err != nil {
		return -1, err
	}

	detach := ctx.Bool("detach")
	consoleSocket := ctx.String("console-socket")
	if p.Terminal && detach && consoleSocket == "" {
		return -1, errors.New("cannot allocate tty if runc will detach " +
			"without setting console socket")
	}
	if (!p.Terminal || !detach) && consoleSocket != "" {
		return -1, errors.New("cannot use console socket if runc will " +
			"not detach or allocate tty")
	}
	preserve := ctx.Int("preserve-fds")
	if preserve < 0 {
		return -1, errors.New("--preserve-fds must not be negative")
	}
	if consoleSocket != "" {
		if consoleSocket, err = filepath.Abs(consoleSocket); err != nil {
			return -1, err
		}
	}

	// Catch SIGCHLD before the process exists, so a short one is not
	// missed.
	var fwd *signalForwarder
	if !detach {
		fwd = newSignalForwarder(false)
		defer fwd.stop()
	}
	proc, err := c.Exec(p, &libcontainer.ExecOpts{
		ConsoleSocket: consoleSocket,
		PreserveFds:   preserve,
		SubCgroups:    subCgroups,
		IgnorePaused:  ctx.Bool("ignore-paused"),
	})
	if err != nil {
		return -1, err
	}
	// From here on a failure leaves a running process: kill it, as the
	// caller will not know about it.
	if err := sendPidfd(ctx.String("pidfd-socket"), proc.Pid); err != nil {
		killExec(proc, detach)
		return -1, err
	}
	if err := writePidFile(ctx.String("pid-file"), proc.Pid); err != nil {
		killExec(proc, detach)
		return -1, err
	}
	if detach {
		return 0, nil
	}

	var tty *ttyCopier
	if proc.Console != nil {
		tty, err = newTTYCopier(proc.Console)
		if err != nil {
			killExec(proc, detach)
			return -1, err
		}
		defer tty.close()
	}
	return fwd.forward(proc.Pid, tty)
}

// killExec kills an exec'd process the caller will not learn about, and
// reaps it unless it was meant to outlive us.
func killExec(proc *libcontainer.Process, detach bool) {
	if proc.Console != nil {
		proc.Console.Close()
	}
	p, err := os.FindProcess(proc.Pid)
	if err != nil {
		return
	}
	_ = p.Kill()
	if !detach {
		_, _ = libcontainer.Wait(proc.Pid)
	}
}

// execSpec builds the process to exec: the --process file as it is, or
// the container's own process (env, user, cwd, capabilities, rlimits,
// labels) with the command line's args and overrides, as runc does.
func execSpec(ctx *cli.Context, base *specs.Process) (*specs.Process, error) {
	if path := ctx.String("process"); path != "" {
		return readProcessFile(path, base)
	}
	args := ctx.Args().Tail()
	if len(args) == 0 {
		return nil, errors.New("exec args cannot be empty")
	}
	p := copyProcess(base)
	p.Args = args
	p.Terminal = ctx.Bool("tty")
	if cwd := ctx.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	p.Env = mergeEnv(p.Env, ctx.StringSlice("env"))
	if ap := ctx.String("apparmor"); ap != "" {
		p.ApparmorProfile = ap
	}
	if label := ctx.String("process-label"); label != "" {
		p.SelinuxLabel = label
	}
	if ctx.IsSet("no-new-privs") {
		p.NoNewPrivileges = ctx.Bool("no-new-privs")
	}
	if u := ctx.String("user"); u != "" {
		uid, gid, hasGid := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid --user %q: bad uid", u)
		}
		p.User.UID = uint32(n)
		if hasGid {
			n, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("invalid --user %q: bad gid", u)
			}
			p.User.GID = uint32(n)
		}
	}
	for _, gid := range uniq(ctx.Int64Slice("additional-gids")) {
		if gid < 0 || gid > 1<<32-1 {
			return nil, fmt.Errorf("invalid --additional-gids %d", gid)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	if caps := uniq(ctx.StringSlice("cap")); len(caps) > 0 {
		addCaps(p, caps)
	}
	if s := ctx.String("umask"); s != "" {
		m, err := strconv.ParseUint(s, 8, 32)
		if err != nil || m > 0o777 {
			return nil, fmt.Errorf("invalid --umask %q: want an octal "+
				"mode such as 0022", s)
		}
		mask := uint32(m)
		p.User.Umask = &mask
	}
	return p, validateProcess(p)
}

// readProcessFile reads a process JSON (runtime-spec "process"), as a
// shim sends it. What it leaves out that runc takes from the container
// (capabilities, rlimits, labels) comes from base.
func readProcessFile(path string, base *specs.Process) (*specs.Process, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read process file: %w", err)
	}
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("parse process file %s: %w", path, err)
	}
	if p.Capabilities == nil {
		p.Capabilities = copyProcess(base).Capabilities
	}
	if len(p.Rlimits) == 0 {
		p.Rlimits = base.Rlimits
	}
	if p.ApparmorProfile == "" {
		p.ApparmorProfile = base.ApparmorProfile
	}
	if p.SelinuxLabel == "" {
		p.SelinuxLabel = base.SelinuxLabel
	}
	return &p, validateProcess(&p)
}

// validateProcess checks what init would otherwise fail on later.
func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 {
		return errors.New("process args cannot be empty")
	}
	if p.Cwd == "" {
		return errors.New("process cwd must not be empty")
	}
	if !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process cwd %q must be an absolute path", p.Cwd)
	}
	return nil
}

// copyProcess deep-copies the fields exec changes, so the container's
// config is never modified through the copy.
func copyProcess(base *specs.Process) *specs.Process {
	p := *base
	p.Env = append([]string(nil), base.Env...)
	p.User.AdditionalGids = append([]uint32(nil),
		base.User.AdditionalGids...)
	if base.Capabilities != nil {
		c := *base.Capabilities
		c.Bounding = append([]string(nil), c.Bounding...)
		c.Effective = append([]string(nil), c.Effective...)
		c.Permitted = append([]string(nil), c.Permitted...)
		c.Inheritable = append([]string(nil), c.Inheritable...)
		c.Ambient = append([]string(nil), c.Ambient...)
		p.Capabilities = &c
	}
	return &p
}

// addCaps adds caps to the bounding, effective and permitted sets, and to
// the ambient set only when the container has inheritable capabilities,
// since an ambient capability must also be inheritable.
func addCaps(p *specs.Process, caps []string) {
	if p.Capabilities == nil {
		p.Capabilities = &specs.LinuxCapabilities{}
	}
	c := p.Capabilities
	for _, name := range caps {
		name = strings.ToUpper(name)
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		c.Bounding = append(c.Bounding, name)
		c.Effective = append(c.Effective, name)
		c.Permitted = append(c.Permitted, name)
		if len(c.Inheritable) > 0 {
			c.Ambient = append(c.Ambient, name)
		}
	}
}

// mergeEnv appends extra to env; a variable set twice keeps the last
// value, in the place of its first appearance.
func mergeEnv(env, extra []string) []string {
	out := make([]string, 0, len(env)+len(extra))
	index := make(map[string]int)
	for _, kv := range append(append([]string(nil), env...), extra...) {
		key, _, _ := strings.Cut(kv, "=")
		if i, ok := index[key]; ok {
			out[i] = kv
			continue
		}
		index[key] = len(out)
		out = append(out, kv)
	}
	return out
}

// parseSubCgroups parses --cgroup values: "PATH" for every controller
// (the only form on cgroup v2), or "CTRL[,CTRL...]:PATH".
func parseSubCgroups(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	m := make(map[string]string)
	for _, v := range values {
		ctrls, path, ok := strings.Cut(v, ":")
		if !ok {
			if len(values) != 1 {
				return nil, fmt.Errorf("invalid --cgroup argument %q: "+
					"missing <controller>: prefix", v)
			}
			ctrls, path = "", v
		}
		if path == "" || strings.Contains(path, ":") {
			return nil, fmt.Errorf("invalid --cgroup argument %q", v)
		}
		for _, ctrl := range strings.Split(ctrls, ",") {
			if _, dup := m[ctrl]; dup {
				return nil, fmt.Errorf("invalid --cgroup argument %q: "+
					"controller %q given twice", v, ctrl)
			}
			m[ctrl] = path
		}
	}
	return m, nil
}

// uniq drops repeated values, keeping the first of each. urfave/cli v1
// reports a slice flag given by its long name twice.
func uniq[T comparable](values []T) []T {
	seen := make(map[T]bool, len(values))
	out := values[:0:0]
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
