// Command seccompagent is a small seccomp notify agent, the other end of
// linux.seccomp.listenerPath: towel sends it the listener fd of each
// container whose profile uses SCMP_ACT_NOTIFY, and it answers every
// notification. It serves tests and shows how an agent works:
//
//	seccompagent [--mkdir-errno ERRNO] [--mkdir-value N]
//	             [--pid-file FILE] SOCKET
//
// mkdir(2) and mkdirat(2) are answered by the agent without making
// anything: with ERRNO (a name such as EDQUOT, or a number) if set, else
// as a success that returns N. Every other notified syscall is let
// through to the kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Each
// notification is logged to stderr, one line each.
//
// The socket exists, and the pid file is written, before the first
// connection is accepted. SIGINT or SIGTERM removes the socket and ends
// the agent.
package main

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"

	"github.com/urfave/cli"
	"golang.org/x/sys/unix"
)

const usage = `answer seccomp notifications of containers

seccompagent listens on SOCKET, the linux.seccomp.listenerPath of a
container's config.json, and answers the syscalls its profile gives
SCMP_ACT_NOTIFY: mkdir and mkdirat as --mkdir-errno or --mkdir-value say,
every other one by letting the kernel run it.`

func main() {
	app := cli.NewApp()
	app.Name = "seccompagent"
	app.Usage = usage
	app.ArgsUsage = "SOCKET"
	app.HideVersion = true
	app.Flags = []cli.Flag{
		cli.StringFlag{
			Name:  "mkdir-errno",
			Usage: "fail mkdir with this errno (EDQUOT, 122, ...)",
		},
		cli.Uint64Flag{
			Name:  "mkdir-value",
			Usage: "return this from mkdir, making nothing",
		},
		cli.StringFlag{
			Name:  "pid-file",
			Usage: "write the agent's pid here once it listens",
		},
	}
	app.Action = func(ctx *cli.Context) error {
		if ctx.NArg() != 1 {
			return errors.New("need one argument, the socket path")
		}
		a := &agent{
			mkdirValue: ctx.Uint64("mkdir-value"),
			log:        log.New(os.Stderr, "seccompagent: ", 0),
		}
		if name := ctx.String("mkdir-errno"); name != "" {
			errno, err := parseErrno(name)
			if err != nil {
				return err
			}
			a.mkdirErrno = errno
		}
		return run(a, ctx.Args().First(), ctx.String("pid-file"))
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "seccompagent:", err)
		os.Exit(1)
	}
}

// parseErrno takes an errno by name (EDQUOT) or number (122).
func parseErrno(name string) (unix.Errno, error) {
	if n, err := strconv.ParseUint(name, 10, 16); err == nil && n > 0 {
		return unix.Errno(n), nil
	}
	// Errno numbers stop below 4096 (MAX_ERRNO, include/linux/err.h).
	for n := 1; n < 4096 && name != ""; n++ {
		if unix.ErrnoName(unix.Errno(n)) == name {
			return unix.Errno(n), nil
		}
	}
	return 0, fmt.Errorf("--mkdir-errno: %q is not an errno", name)
}

// run listens at socketPath and serves until a signal comes.
func run(a *agent, socketPath, pidFile string) error {
	// A socket left by an agent that was killed is in the way; anything
	// else at the path is not ours to remove.
	if info, err := os.Lstat(socketPath); err == nil &&
		info.Mode().Type() == os.ModeSocket {
		os.Remove(socketPath)
	}
	ln, err := net.ListenUnix("unix",
		&net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return err
	}
	// Only root may hand us listeners: the socket is the agent's door.
	if err := os.Chmod(socketPath, 0o600); err != nil {
		ln.Close()
		return err
	}
	if pidFile != "" {
		pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
		if err := os.WriteFile(pidFile, pid, 0o644); err != nil {
			ln.Close()
			return err
		}
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, unix.SIGINT, unix.SIGTERM)
	go func() {
		sig := <-signals
		a.log.Printf("%v: exiting", sig)
		ln.Close() // also removes the socket
	}()

	err = a.serve(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
