package main

import (
	"os"

	"github.com/urfave/cli"
)

var runCommand = cli.Command{
	Name:  "run",
	Usage: "create and run a container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.`,
	Description: `The run command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem.

The specification file includes an args parameter. The args parameter is used
to specify command(s) that get run when the container is started. To change the
command(s) that get executed on start, edit the args parameter of the spec. See
"spec --help" for more explanation.`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "bundle, b", Value: "",
			Usage: `path to the root of the bundle directory, defaults to the current directory`},
		cli.StringFlag{Name: "console-socket", Value: "",
			Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		cli.StringFlag{Name: "pidfd-socket",
			Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process"},
		cli.BoolFlag{Name: "detach, d", Usage: "detach from the container's process"},
		cli.BoolFlag{Name: "keep",
			Usage: "do not delete the container after it exits"},
		cli.StringFlag{Name: "pid-file", Value: "",
			Usage: "specify the file to write the process id to"},
		cli.BoolFlag{Name: "no-subreaper",
			Usage: "disable the use of the subreaper used to reap reparented processes"},
		cli.BoolFlag{Name: "no-pivot",
			Usage: "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a ramdisk"},
		cli.BoolFlag{Name: "no-new-keyring",
			Usage: "do not create a new session keyring for the container.  This will cause the container to inherit the calling processes session key"},
		cli.IntFlag{Name: "preserve-fds",
			Usage: "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		status, err := startContainer(ctx, actRun)
		if err != nil {
			return err
		}
		// Exit with the container's status, as runc does; a status of
		// 0 from a detached run falls through to a normal exit.
		if status != 0 {
			os.Exit(status)
		}
		return nil
	},
}
