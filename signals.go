package main

import (
	"os"
	"os/signal"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer"
)

// signalForwarder relays the signals a foreground run or exec receives to
// the container process, reaps children, and learns the process's exit.
type signalForwarder struct {
	ch chan os.Signal
}

// newSignalForwarder starts catching every signal. With subreaper set,
// processes orphaned inside a container without its own PID namespace are
// re-parented to us and reaped here.
func newSignalForwarder(subreaper bool) *signalForwarder {
	f := &signalForwarder{ch: make(chan os.Signal, 128)}
	signal.Notify(f.ch)
	if subreaper {
		err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		if err != nil {
			logrus.Warnf("set child subreaper: %v", err)
		}
	}
	return f
}

func (f *signalForwarder) stop() {
	signal.Stop(f.ch)
}

// forward runs until pid exits and returns its exit status.
func (f *signalForwarder) forward(pid int, tty *ttyCopier) (int, error) {
	if tty != nil {
		tty.resize()
	}
	// The process may have exited before we got here; check once.
	if status, done := reap(pid); done {
		return status, nil
	}
	for sig := range f.ch {
		switch sig {
		case unix.SIGCHLD:
			if status, done := reap(pid); done {
				return status, nil
			}
		case unix.SIGWINCH:
			if tty != nil {
				tty.resize()
			}
		case unix.SIGURG:
			// The Go runtime preempts goroutines with SIGURG: it is
			// ours, not the caller's.
		default:
			s := sig.(unix.Signal)
			if err := unix.Kill(pid, s); err != nil {
				logrus.Debugf("forward %v to %d: %v", s, pid, err)
			}
		}
	}
	return -1, nil
}

// reap collects every exited child; done is true once pid is among them.
func reap(pid int) (status int, done bool) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || wpid <= 0 {
			return status, done
		}
		if wpid == pid {
			status, done = libcontainer.ExitCode(ws), true
		}
	}
}
