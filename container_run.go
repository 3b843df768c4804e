package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer"
	"github.com/towel-runtime/towel/libcontainer/notify"
)

type action int

const (
	actCreate action = iota
	actRun
)

// startContainer is create and run: it makes the container from the
// bundle and, for run, starts it and (unless detached) waits for it. It
// returns the exit status of a foreground run.
//
// With terminal: false the process gets our stdio as they are (pass-
// through); with terminal: true it gets a new pty whose master goes to
// --console-socket when detached, or is copied to and from our stdio.
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
	extra, err := passedFds(ctx.Int("preserve-fds"))
	if err != nil {
		return -1, err
	}
	if extra.listen > 0 {
		cfg.Process.Env = listenEnv(cfg.Process.Env, extra.listen)
	}
	notifySocket := os.Getenv("NOTIFY_SOCKET")

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
			PreserveFds:   extra.listen + extra.preserve,
			NoNewKeyring:  ctx.Bool("no-new-keyring"),
			NotifySocket:  notifySocket,
		})
	if err != nil {
		return -1, err
	}
	// failed undoes the create on the way out of an error.
	failed := func(err error) (int, error) {
		if proc.Console != nil {
			proc.Console.Close()
		}
		destroy(c)
		return -1, err
	}
	if err := sendPidfd(ctx.String("pidfd-socket"), proc.Pid); err != nil {
		return failed(err)
	}
	if err := writePidFile(ctx.String("pid-file"), proc.Pid); err != nil {
		return failed(err)
	}
	if act == actCreate {
		return 0, nil
	}

	// Bound before the process starts, so that no message is lost.
	relay, err := c.ListenNotify(notifySocket)
	if err != nil {
		return failed(err)
	}
	if relay != nil {
		defer relay.Close()
	}
	var tty *ttyCopier
	if proc.Console != nil {
		tty, err = newTTYCopier(proc.Console)
		if err != nil {
			return failed(err)
		}
		// From here on tty owns the master; close restores the
		// caller's terminal on every way out.
		proc.Console = nil
		defer tty.close()
	}
	if err := c.Start(); err != nil {
		return failed(err)
	}
	if detach {
		if relay != nil {
			waitNotifyReady(c, relay)
		}
		return 0, nil
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if relay == nil {
			return
		}
		if err := c.ServeNotify(relay); err != nil {
			logrus.Warnf("notify socket: %v", err)
		}
	}()
	status, err := fwd.forward(proc.Pid, tty)
	// The relay ends by itself once init is gone.
	<-served
	if !ctx.Bool("keep") {
		destroy(c)
	}
	return status, err
}

// startWithNotify is the start command: it lets a created container's
// process run. When NOTIFY_SOCKET is set and the container was created
// with one, it returns only once the process has sent READY=1 and that
// was relayed, so that a systemd unit running `start` sees it.
func startWithNotify(c *libcontainer.Container) error {
	relay, err := c.ListenNotify(os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		return err
	}
	if relay != nil {
		defer relay.Close()
	}
	if err := c.Start(); err != nil {
		return err
	}
	if relay != nil {
		waitNotifyReady(c, relay)
	}
	return nil
}

// waitNotifyReady waits for the process's READY=1, as runc does before a
// detached run or a start returns. A process that exits first, or a
// service manager that does not confirm, is a warning, not an error: the
// container was started.
func waitNotifyReady(c *libcontainer.Container, relay *notify.Relay) {
	err := c.WaitNotifyReady(relay)
	switch {
	case err == nil:
	case errors.Is(err, notify.ErrStopped),
		errors.Is(err, libcontainer.ErrNotRunning):
		logrus.Warn("container exited before it sent READY=1")
	default:
		logrus.Warnf("notify socket: %v", err)
	}
}

// extraFds counts the fds above stderr that the process gets at the same
// numbers: first those of socket activation, then --preserve-fds.
type extraFds struct {
	listen, preserve int
}

// passedFds counts the fds to pass on and checks that each is one the
// caller gave us, so that a wrong --preserve-fds is an error rather than
// an fd missing in the container, or one of ours leaking into it (the Go
// runtime keeps a cgroup file open to size GOMAXPROCS). Whatever we open
// ourselves is close-on-exec, which nothing we inherited can be. Socket
// activation fds count only when LISTEN_PID is ours (sd_listen_fds(3)).
func passedFds(preserve int) (extraFds, error) {
	if preserve < 0 {
		return extraFds{}, errors.New("--preserve-fds must not be negative")
	}
	listen := listenFdCount()
	for fd := 3; fd < 3+listen+preserve; fd++ {
		what := fmt.Sprintf("--preserve-fds %d: fd %d", preserve, fd)
		if fd < 3+listen {
			what = fmt.Sprintf("LISTEN_FDS=%d: fd %d", listen, fd)
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			return extraFds{}, fmt.Errorf("%s is not open", what)
		}
		if flags&unix.FD_CLOEXEC != 0 {
			return extraFds{}, fmt.Errorf("%s is not open (it is "+
				"towel's own)", what)
		}
	}
	// activation marks them close-on-exec; they are passed explicitly.
	activation.Files(false)
	return extraFds{listen: listen, preserve: preserve}, nil
}

// listenFdCount is sd_listen_fds(3) without its side effects: the number
// of fds from 3 up that socket activation passed to this very process.
func listenFdCount() int {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// listenEnv tells the process about n fds of socket activation, in the
// variables sd_listen_fds(3) reads. The process is taken to be pid 1 of
// its PID namespace, as runc does. LISTEN_FDNAMES is passed on as it is.
func listenEnv(env []string, n int) []string {
	vars := []string{"LISTEN_FDS=" + strconv.Itoa(n), "LISTEN_PID=1"}
	if names, ok := os.LookupEnv("LISTEN_FDNAMES"); ok {
		vars = append(vars, "LISTEN_FDNAMES="+names)
	}
	out := make([]string, 0, len(env)+len(vars))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "LISTEN_FDS=") &&
			!strings.HasPrefix(kv, "LISTEN_PID=") &&
			!strings.HasPrefix(kv, "LISTEN_FDNAMES=") {
			out = append(out, kv)
		}
	}
	return append(out, vars...)
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
