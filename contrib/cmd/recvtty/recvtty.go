// Command recvtty receives the pty master of a container on a console
// socket, the other end of the --console-socket option of run, create and
// exec. It serves tests and admins who want a detached container with a
// terminal:
//
//	recvtty [--mode single|null] [--pid-file FILE] [--no-stdin] SOCKET
//
// In single mode (the default) it accepts one terminal, copies its output
// to stdout and stdin to it (unless --no-stdin), and exits once the
// terminal's last user has closed it. In null mode it accepts any number
// of terminals and reads each to its end, throwing the output away, so
// that a container never blocks on a full terminal.
//
// The socket exists, and the pid file is written, before the first
// connection is accepted: a script can wait for the pid file and then
// start the container.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/containerd/console"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"
)

const usage = `receive the pty master of a container on a console socket

recvtty listens on SOCKET, a unix socket path to pass as --console-socket
to run, create or exec with a terminal. Modes:

   single  take one terminal and join it to recvtty's stdio; exit when the
           terminal is closed by its last user
   null    take any number of terminals and discard their output`

func main() {
	app := cli.NewApp()
	app.Name = "recvtty"
	app.Usage = usage
	app.ArgsUsage = "SOCKET"
	app.HideVersion = true
	app.Flags = []cli.Flag{
		cli.StringFlag{Name: "mode, m", Value: "single",
			Usage: "single or null"},
		cli.StringFlag{Name: "pid-file",
			Usage: "write recvtty's pid to this file once it listens"},
		cli.BoolFlag{Name: "no-stdin",
			Usage: "do not copy stdin to the terminal (single mode)"},
	}
	app.Action = func(ctx *cli.Context) error {
		if ctx.NArg() != 1 {
			return errors.New("need exactly one argument, the socket path")
		}
		mode := ctx.String("mode")
		if mode != "single" && mode != "null" {
			return fmt.Errorf("unknown mode %q: want single or null", mode)
		}
		ln, err := net.ListenUnix("unix",
			&net.UnixAddr{Name: ctx.Args().First(), Net: "unix"})
		if err != nil {
			return err
		}
		defer ln.Close()
		if err := writePidFile(ctx.String("pid-file")); err != nil {
			return err
		}
		if mode == "null" {
			return serveNull(ln)
		}
		return serveSingle(ln, !ctx.Bool("no-stdin"))
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "recvtty:", err)
		os.Exit(1)
	}
}

// writePidFile writes our pid to path through a temporary file, so that
// a reader never sees a partial one.
func writePidFile(path string) error {
	if path == "" {
		return nil
	}
	tmp := path + ".tmp"
	pid := strconv.Itoa(os.Getpid()) + "\n"
	if err := os.WriteFile(tmp, []byte(pid), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// recvFd returns the fd that came on conn, named by the message's data.
func recvFd(conn *net.UnixConn) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, fmt.Errorf("receive terminal: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive terminal: %w", err)
	}
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil || len(fds) == 0 {
			continue
		}
		for _, extra := range fds[1:] {
			unix.Close(extra)
		}
		return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
	}
	return nil, errors.New("receive terminal: the message carried no fd")
}

// serveSingle joins one terminal to our stdio until its output ends.
func serveSingle(ln *net.UnixListener, withStdin bool) error {
	conn, err := ln.AcceptUnix()
	if err != nil {
		return err
	}
	master, err := recvFd(conn)
	conn.Close()
	if err != nil {
		return err
	}
	defer master.Close()
	// One terminal only: let the socket go, so another receiver can
	// take its place.
	ln.Close()

	if withStdin {
		if c, err := console.ConsoleFromFile(os.Stdin); err == nil {
			if err := c.SetRaw(); err == nil {
				defer c.Reset()
			}
		}
		go func() { _, _ = io.Copy(master, os.Stdin) }()
	}
	_, err = io.Copy(os.Stdout, master)
	if isHangup(err) {
		return nil
	}
	return err
}

// serveNull drains every terminal that comes, until the listener fails.
func serveNull(ln *net.UnixListener) error {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		master, err := recvFd(conn)
		conn.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "recvtty:", err)
			continue
		}
		go func() {
			defer master.Close()
			_, _ = io.Copy(io.Discard, master)
		}()
	}
}

// isHangup reports whether a read of a pty master failed because every
// slave was closed, which is how its output ends (EIO, pty(7)).
func isHangup(err error) bool {
	return errors.Is(err, unix.EIO)
}
