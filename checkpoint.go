package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer"
	"github.com/towel-runtime/towel/libcontainer/criu"
)

var checkpointCommand = cli.Command{
	Name:  "checkpoint",
	Usage: "checkpoint a running container",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name for the instance of the container to be
checkpointed.`,
	Description: `The checkpoint command saves the state of the container instance with criu,
which must be in $PATH.`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "image-path",
			Usage: "path for saving criu image files (default: ./checkpoint)"},
		cli.StringFlag{Name: "work-path",
			Usage: "path for saving work files and logs"},
		cli.StringFlag{Name: "parent-path",
			Usage: "path for previous criu image files in pre-dump, relative to --image-path"},
		cli.BoolFlag{Name: "leave-running",
			Usage: "leave the process running after checkpointing"},
		cli.BoolFlag{Name: "tcp-established",
			Usage: "allow open tcp connections"},
		cli.BoolFlag{Name: "ext-unix-sk",
			Usage: "allow external unix sockets"},
		cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		cli.BoolFlag{Name: "lazy-pages",
			Usage: "use userfaultfd to lazily restore memory pages"},
		cli.IntFlag{Name: "status-fd", Value: -1,
			Usage: "criu writes \\0 to this FD once lazy-pages is ready"},
		cli.StringFlag{Name: "page-server",
			Usage: "ADDRESS:PORT of the page server"},
		cli.BoolFlag{Name: "file-locks",
			Usage: "handle file locks, for safety"},
		cli.BoolFlag{Name: "pre-dump",
			Usage: "dump container's memory information only, leave the container running after this"},
		cli.StringFlag{Name: "manage-cgroups-mode",
			Usage: "cgroups mode: soft|full|strict|ignore (default: soft)"},
		cli.StringSliceFlag{Name: "empty-ns",
			Usage: "create a namespace, but don't restore its properties"},
		cli.BoolFlag{Name: "auto-dedup",
			Usage: "enable auto deduplication of memory images"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		if os.Geteuid() != 0 || inUserNamespace() {
			logrus.Warn("checkpoint is untested with rootless containers")
		}
		opts, err := criuOptions(ctx)
		if err != nil {
			return err
		}
		c, err := getContainer(ctx)
		if err != nil {
			return err
		}
		if err := c.Checkpoint(opts); err != nil {
			return err
		}
		if !opts.LeaveRunning && !opts.PreDump {
			// criu has ended the processes: what is left is the
			// container's cgroup and state.
			destroy(c)
		}
		return nil
	},
}

// criuOptions reads the flags checkpoint and restore share.
func criuOptions(ctx *cli.Context) (*criu.Options, error) {
	imagePath := ctx.String("image-path")
	if imagePath == "" {
		imagePath = "checkpoint"
	}
	imagePath, err := filepath.Abs(imagePath)
	if err != nil {
		return nil, err
	}
	workPath := ctx.String("work-path")
	if workPath != "" {
		if workPath, err = filepath.Abs(workPath); err != nil {
			return nil, err
		}
	}
	cgMode, err := criu.ParseCgroupMode(ctx.String("manage-cgroups-mode"))
	if err != nil {
		return nil, err
	}
	opts := &criu.Options{
		ImagePath:       imagePath,
		WorkPath:        workPath,
		ParentPath:      ctx.String("parent-path"),
		LeaveRunning:    ctx.Bool("leave-running"),
		TCPEstablished:  ctx.Bool("tcp-established"),
		ExtUnixSk:       ctx.Bool("ext-unix-sk"),
		ShellJob:        ctx.Bool("shell-job"),
		FileLocks:       ctx.Bool("file-locks"),
		PreDump:         ctx.Bool("pre-dump"),
		AutoDedup:       ctx.Bool("auto-dedup"),
		LazyPages:       ctx.Bool("lazy-pages"),
		StatusFd:        -1,
		PageServer:      ctx.String("page-server"),
		CgroupMode:      cgMode,
		LsmProfile:      ctx.String("lsm-profile"),
		LsmMountContext: ctx.String("lsm-mount-context"),
		// towel configures no network devices: the network namespace
		// is always restored empty (but for lo), as with runc.
		EmptyNs: unix.CLONE_NEWNET,
	}
	if ctx.IsSet("status-fd") {
		opts.StatusFd = ctx.Int("status-fd")
	}
	if opts.PageServer != "" {
		if _, err := criu.ParsePageServer(opts.PageServer); err != nil {
			return nil, err
		}
	}
	for _, ns := range ctx.StringSlice("empty-ns") {
		if ns != "network" {
			return nil, fmt.Errorf("--empty-ns %q is not supported: "+
				"only network is", ns)
		}
	}
	return opts, nil
}

// restoreContainer is the restore command: it makes container id from
// the bundle and the checkpoint and, unless detached, waits for it. It
// returns the exit status of a foreground restore.
func restoreContainer(ctx *cli.Context, opts *criu.Options) (int, error) {
	id := ctx.Args().First()
	if err := libcontainer.ValidateID(id); err != nil {
		return -1, err
	}
	root, err := rootDir(ctx)
	if err != nil {
		return -1, err
	}
	cfg, err := loadConfig(ctx, id)
	if err != nil {
		return -1, err
	}

	detach := ctx.Bool("detach")
	consoleSocket := ctx.String("console-socket")
	terminal := cfg.Process.Terminal
	if terminal && detach && consoleSocket == "" {
		return -1, fmt.Errorf("cannot allocate tty if runc will detach " +
			"without setting console socket")
	}
	if (!terminal || !detach) && consoleSocket != "" {
		return -1, fmt.Errorf("cannot use console socket if runc will " +
			"not detach or allocate tty")
	}

	// Catch signals before the container exists, so none is lost.
	var fwd *signalForwarder
	if !detach {
		fwd = newSignalForwarder(!ctx.Bool("no-subreaper"))
		defer fwd.stop()
	}
	c, proc, err := libcontainer.Restore(root, id, cfg,
		&libcontainer.RestoreOpts{Criu: opts, ConsoleSocket: consoleSocket})
	if err != nil {
		return -1, err
	}
	failed := func(err error) (int, error) {
		if proc.Console != nil {
			proc.Console.Close()
		}
		destroy(c)
		return -1, err
	}
	if err := writePidFile(ctx.String("pid-file"), proc.Pid); err != nil {
		return failed(err)
	}
	if detach {
		return 0, nil
	}
	var tty *ttyCopier
	if proc.Console != nil {
		tty, err = newTTYCopier(proc.Console)
		if err != nil {
			return failed(err)
		}
		proc.Console = nil
		defer tty.close()
	}
	status, err := fwd.forward(proc.Pid, tty)
	destroy(c)
	return status, err
}
