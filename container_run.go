package main

import (
	"errors"
	"os"

	"github.com/urfave/cli"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer"
)

type action int

const (
	actCreate action = iota
	actRun
)

// startContainer is create and run: it makes the container from the
// bundle and, for run, starts it and (unless detached) waits for it. It
// returns the exit status of a foreground run.
func startContainer(ctx *cli.Context, act action) (int, error) {
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

	detach := act == actCreate || ctx.Bool("detach")
	consoleSocket := ctx.String("console-socket")
	terminal := cfg.Process.Terminal
	if terminal && detach && consoleSocket == "" {
		return -1, errors.New("cannot allocate tty if runc will detach " +
			"without setting console socket")
	}
	if (!terminal || !detach) && consoleSocket != "" {
		return -1, errors.New("cannot use console socket if runc will " +
			"not detach or allocate tty")
	}
	preserve := ctx.Int("preserve-fds")
	if preserve < 0 {
		return -1, errors.New("--preserve-fds must not be negative")
	}
	preserve += listenFds()

	// Catch signals before the container exists, so none sent while it
	// is created is lost.
	var fwd *signalForwarder
	if !detach {
		fwd = newSignalForwarder(!ctx.Bool("no-subreaper"))
		defer fwd.stop()
	}

	c, proc, err := libcontainer.Create(root, id, cfg,
		&libcontainer.CreateOpts{
			ConsoleSocket: consoleSocket,
			PreserveFds:   preserve,
			NoNewKeyring:  ctx.Bool("no-new-keyring"),
		})
	if err != nil {
		return -1, err
	}
	if err := sendPidfd(ctx.String("pidfd-socket"), proc.Pid); err != nil {
		destroy(c)
		return -1, err
	}
	if err := writePidFile(ctx.String("pid-file"), proc.Pid); err != nil {
		destroy(c)
		return -1, err
	}
	if act == actCreate {
		return 0, nil
	}

	var tty *ttyCopier
	if proc.Console != nil {
		tty, err = newTTYCopier(proc.Console)
		if err != nil {
			destroy(c)
			return -1, err
		}
		defer tty.close()
	}
	if err := c.Start(); err != nil {
		destroy(c)
		return -1, err
	}
	if detach {
		return 0, nil
	}
	status, err := fwd.forward(proc.Pid, tty)
	if !ctx.Bool("keep") {
		destroy(c)
	}
	return status, err
}

// listenFds is the number of fds systemd socket activation passed us
// (sd_listen_fds(3)), which are passed on like --preserve-fds.
func listenFds() int {
	if os.Getenv("LISTEN_PID") == "" {
		return 0
	}
	n := 0
	for _, c := range os.Getenv("LISTEN_FDS") {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// sendPidfd sends a pidfd of pid over the unix socket at path, if any.
func sendPidfd(path string, pid int) error {
	if path == "" {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	return libcontainer.SendFd(path, f)
}
