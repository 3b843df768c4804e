package main

import (
	"os"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"
)

var restoreCommand = cli.Command{
	Name:  "restore",
	Usage: "restore a container from a previous checkpoint",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name for the instance of the container to be
restored.`,
	Description: `Restores the saved state of the container instance that was previously saved
using the checkpoint command, with criu, which must be in $PATH.`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "console-socket",
			Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		cli.StringFlag{Name: "image-path",
			Usage: "path to criu image files for restoring (default: ./checkpoint)"},
		cli.StringFlag{Name: "work-path",
			Usage: "path for saving work files and logs"},
		cli.BoolFlag{Name: "tcp-established",
			Usage: "allow open tcp connections"},
		cli.BoolFlag{Name: "ext-unix-sk",
			Usage: "allow external unix sockets"},
		cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		cli.BoolFlag{Name: "file-locks",
			Usage: "handle file locks, for safety"},
		cli.StringFlag{Name: "manage-cgroups-mode",
			Usage: "cgroups mode: soft|full|strict|ignore (default: soft)"},
		cli.StringFlag{Name: "bundle, b",
			Usage: "path to the root of the bundle directory"},
		cli.BoolFlag{Name: "detach, d",
			Usage: "detach from the container's process"},
		cli.StringFlag{Name: "pid-file",
			Usage: "specify the file to write the process id to"},
		cli.BoolFlag{Name: "no-subreaper",
			Usage: "disable the use of the subreaper used to reap reparented processes"},
		cli.BoolFlag{Name: "no-pivot",
			Usage: "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a ramdisk"},
		cli.StringSliceFlag{Name: "empty-ns",
			Usage: "create a namespace, but don't restore its properties"},
		cli.BoolFlag{Name: "auto-dedup",
			Usage: "enable auto deduplication of memory images"},
		cli.BoolFlag{Name: "lazy-pages",
			Usage: "use userfaultfd to lazily restore memory pages"},
		cli.StringFlag{Name: "lsm-profile",
			Usage: "Specify an LSM profile to be used during restore in the form of TYPE:NAME."},
		cli.StringFlag{Name: "lsm-mount-context",
			Usage: "Specify an LSM mount context to be used during restore."},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		if os.Geteuid() != 0 || inUserNamespace() {
			logrus.Warn("restore is untested with rootless containers")
		}
		opts, err := criuOptions(ctx)
		if err != nil {
			return err
		}
		status, err := restoreContainer(ctx, opts)
		if err != nil {
			return err
		}
		// Exit with the container's status, as runc does.
		if status != 0 {
			os.Exit(status)
		}
		return nil
	},
}
