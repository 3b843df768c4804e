// Command memfd-bind keeps a sealed in-memory copy of a binary mounted over
// the binary's own path, so that every program started from that path runs
// from a file nobody can write: not the host binary, which a container
// could otherwise reach through /proc/PID/exe (CVE-2019-5736), and not a
// copy it could change. towel started from such a path uses its binary as
// it is and makes no copy or overlay of its own for `towel init`.
//
//	memfd-bind [--debug] PATH      bind, then stay until SIGTERM or SIGINT
//	memfd-bind --cleanup PATH      remove what a previous run left at PATH
//
// How it works: a memfd is not on any mount a process can bind from, but
// its /proc/PID/fd/N link is; memfd-bind bind-mounts that link, held by an
// O_PATH|O_NOFOLLOW fd, over PATH. Opening or executing PATH then follows
// the link to the memfd. The link only resolves while memfd-bind runs, and
// only for processes allowed to ptrace memfd-bind (root, in practice), so
// the daemon must stay up, and unprivileged users cannot run the binary
// from PATH while it does. When it dies without cleaning up, PATH fails
// with EINVAL until `memfd-bind --cleanup PATH`.
//
// See docs/dmz.md for the systemd unit and for upgrading the binary.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/dmz"
)

const usage = `keep a sealed memfd copy of a binary bound over its path

   memfd-bind PATH           copy PATH into a sealed memfd, mount it over
                             PATH and stay until SIGTERM or SIGINT, which
                             remove the mount again
   memfd-bind --cleanup PATH remove memfd-bind mounts left at PATH`

func main() {
	app := cli.NewApp()
	app.Name = "memfd-bind"
	app.Usage = "keep a sealed in-memory copy of a binary over its path"
	app.UsageText = usage
	app.HideVersion = true
	app.Flags = []cli.Flag{
		cli.BoolFlag{Name: "cleanup",
			Usage: "only remove memfd-bind mounts left at PATH"},
		cli.BoolFlag{Name: "debug", Usage: "log each step"},
	}
	app.Action = func(ctx *cli.Context) error {
		if ctx.NArg() != 1 {
			return errors.New("need exactly one PATH")
		}
		if ctx.Bool("debug") {
			logrus.SetLevel(logrus.DebugLevel)
		}
		path, err := filepath.Abs(ctx.Args().First())
		if err != nil {
			return err
		}
		if ctx.Bool("cleanup") {
			n, err := cleanup(path)
			logrus.Infof("removed %d memfd-bind mount(s) from %s", n, path)
			return err
		}
		return bindAndWait(path)
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "memfd-bind:", err)
		os.Exit(1)
	}
}

// fdPath names f's magic link in our own /proc.
func fdPath(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// openTop returns an O_PATH handle to whatever is on top at path without
// following it: for a memfd-bind mount that is the magic link itself.
func openTop(path string) (*os.File, error) {
	return os.OpenFile(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// isOurMount reports whether f, from openTop, is a memfd-bind mount: the
// root of a mount whose file is a procfs link (live or dead).
func isOurMount(f *os.File) bool {
	var sfs unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &sfs) != nil ||
		sfs.Type != unix.PROC_SUPER_MAGIC {
		return false
	}
	var stx unix.Statx_t
	err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|
		unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE, &stx)
	return err == nil && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 &&
		stx.Mode&unix.S_IFMT == unix.S_IFLNK
}

// cleanup unmounts memfd-bind mounts stacked at path, top first, and
// stops at the first mount that is not one, which it leaves alone. It
// returns how many it removed.
func cleanup(path string) (int, error) {
	for n := 0; ; n++ {
		top, err := openTop(path)
		if err != nil {
			return n, fmt.Errorf("open %s: %w", path, err)
		}
		ours := isOurMount(top)
		if ours {
			// umount(2) on the handle's own link: PATH itself would
			// follow the memfd link, which fails once it is dead.
			err = unix.Unmount(fdPath(top), unix.MNT_DETACH)
		}
		top.Close()
		if !ours {
			return n, nil
		}
		if err != nil {
			return n, &os.PathError{Op: "unmount", Path: path, Err: err}
		}
		logrus.Debugf("unmounted a memfd-bind mount from %s", path)
	}
}

// bindAndWait copies path into a sealed memfd, mounts its magic link over
// path, and keeps both alive until SIGTERM or SIGINT, then unmounts.
func bindAndWait(path string) error {
	// A mount left by a run that died would copy a dead link.
	if _, err := cleanup(path); err != nil {
		return err
	}
	memfd, err := dmz.CopySealed(path, filepath.Base(path))
	if err != nil {
		return fmt.Errorf("copy %s: %w", path, err)
	}
	defer memfd.Close()

	link, err := openTop(fdPath(memfd))
	if err != nil {
		return fmt.Errorf("open the memfd's link: %w", err)
	}
	defer link.Close()
	target, err := openTop(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer target.Close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)

	err = unix.Mount(fdPath(link), fdPath(target), "", unix.MS_BIND, "")
	if err != nil {
		return &os.PathError{Op: "bind memfd over", Path: path, Err: err}
	}
	if err := checkBound(path); err != nil {
		_, _ = cleanup(path)
		return err
	}
	logrus.Infof("%s now runs from a sealed memfd; waiting for SIGTERM",
		path)
	// Best effort: nothing to tell without systemd.
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)

	sig := <-sigs
	logrus.Infof("%v: removing the mount from %s", sig, path)
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	n, err := cleanup(path)
	if err == nil && n == 0 {
		err = fmt.Errorf("%s: the memfd-bind mount was gone already", path)
	}
	// The memfd must outlive the mount that refers to it.
	runtime.KeepAlive(memfd)
	return err
}

// checkBound opens path as any program would and checks it reaches the
// sealed memfd.
func checkBound(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	if !dmz.IsSealed(f) {
		return fmt.Errorf("check %s: not the sealed memfd after the mount",
			path)
	}
	return nil
}
