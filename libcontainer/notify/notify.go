// Package notify relays sd_notify(3) messages from a container to the
// service manager that started the runtime.
//
// A service manager (systemd, for Type=notify units) gives the runtime a
// datagram socket in NOTIFY_SOCKET. The container cannot reach it: it has
// its own root and maybe its own network namespace, and a message from it
// would carry pids of its own PID namespace. So the runtime binds a socket
// of its own where the container can see it and passes each message on,
// as its own, to the host socket. See sd_notify(3) for the protocol: each
// datagram holds newline-separated VARIABLE=VALUE assignments, and may
// carry file descriptors (FDSTORE=1, BARRIER=1).
//
// The package does not know about containers; libcontainer decides where
// the socket is bound and which process is the service's main one.
//
// BUG(towel): what a detached container sends after READY=1 (STATUS=,
// WATCHDOG=1, STOPPING=1) reaches nobody: run -d and start return once
// READY=1 is relayed, as runc's do, and nothing relays after them.
package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// ErrStopped is returned by WaitReady when the container's process exited
// before it reported READY=1.
var ErrStopped = errors.New("stopped before READY=1")

// ErrNoBarrier is returned by WaitReady when the service manager did not
// confirm within BarrierTimeout that it has processed the messages. The
// messages were sent; the manager may not support BARRIER=1.
var ErrNoBarrier = errors.New("service manager did not answer BARRIER=1")

// BarrierTimeout is how long WaitReady waits for the service manager to
// process READY=1 and MAINPID=, as sd_notify_barrier(3) callers do.
var BarrierTimeout = 5 * time.Second

// maxMessage is the largest datagram relayed; sd_notify messages are
// short, and systemd itself reads at most a page or so.
const maxMessage = 64 << 10

// maxFds is the most descriptors one message may carry (SCM_MAX_FD).
const maxFds = 253

// Relay is the container's end of the notify socket, bound in a
// directory, and the connection on to the host's socket.
type Relay struct {
	in  *net.UnixConn
	out *net.UnixConn

	dir  *os.File // O_PATH handle on the directory in is bound in
	name string
}

// message is one datagram from the container.
type message struct {
	data []byte
	fds  []int
}

// Listen binds a datagram socket named name in the directory dir and
// connects to the host's notify socket at host (a path, or "@name" for
// an abstract socket). The socket is made connectable by every user,
// since the container's processes may run as any of them.
func Listen(dir, name, host string) (r *Relay, retErr error) {
	out, err := net.DialUnix("unixgram", nil,
		&net.UnixAddr{Name: host, Net: "unixgram"})
	if err != nil {
		// net's error repeats the path: keep the system call's.
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			err = opErr.Err
		}
		return nil, fmt.Errorf("connect to NOTIFY_SOCKET %s: %w", host, err)
	}
	defer func() {
		if retErr != nil {
			out.Close()
		}
	}()

	d, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open notify directory: %w", err)
	}
	defer func() {
		if retErr != nil {
			d.Close()
		}
	}()
	// A previous start may have left the socket file behind.
	if err := unix.Unlinkat(int(d.Fd()), name, 0); err != nil &&
		err != unix.ENOENT {
		return nil, &os.PathError{Op: "remove", Path: dir + "/" + name,
			Err: err}
	}
	// Bound through the directory's fd, so that a deep state directory
	// does not run into the 108 bytes of sun_path (unix(7)).
	addr := &net.UnixAddr{Net: "unixgram",
		Name: "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + name}
	in, err := net.ListenUnixgram("unixgram", addr)
	if err != nil {
		return nil, fmt.Errorf("bind notify socket in %s: %w", dir, err)
	}
	err = unix.Fchmodat(int(d.Fd()), name, 0o777, 0)
	if err != nil {
		in.Close()
		return nil, &os.PathError{Op: "chmod", Path: dir + "/" + name,
			Err: err}
	}

	return &Relay{in: in, out: out, dir: d, name: name}, nil
}

// parseRights returns the fds of SCM_RIGHTS messages in oob.
func parseRights(oob []byte) []int {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range cmsgs {
		got, err := unix.ParseUnixRights(&cmsgs[i])
		if err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

// Serve relays every message until exitFd (a pidfd of the container's
// process) becomes readable, then relays those queued by then and
// returns. A negative exitFd only relays what is queued.
func (r *Relay) Serve(exitFd int) error {
	_, err := r.pump(exitFd, false)
	return err
}

// WaitReady relays messages until the container sends READY=1, then tells
// the service manager that mainPid (a pid of the host) is the service's
// main process, and waits until the manager has processed both
// (BARRIER=1). It returns ErrStopped when exitFd (a pidfd of the
// container's process) becomes readable first; messages queued by then
// are relayed before.
func (r *Relay) WaitReady(mainPid, exitFd int) error {
	ready, err := r.pump(exitFd, true)
	if err != nil {
		return err
	}
	if !ready {
		return ErrStopped
	}
	return r.announce(mainPid)
}

// pump relays messages until exitFd is readable and the queue is empty,
// or, with untilReady, until a message said READY=1. The socket is read
// without blocking and waited on with poll(2) together with exitFd, so
// that a message sent just before the exit is never lost to a race.
func (r *Relay) pump(exitFd int, untilReady bool) (ready bool, err error) {
	raw, err := r.in.SyscallConn()
	if err != nil {
		return false, err
	}
	sock := -1
	if err := raw.Control(func(fd uintptr) { sock = int(fd) }); err != nil {
		return false, err
	}
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(maxFds*4))
	fds := []unix.PollFd{
		{Fd: int32(sock), Events: unix.POLLIN},
		{Fd: int32(exitFd), Events: unix.POLLIN},
	}
	exited := exitFd < 0
	for {
		for {
			n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob,
				unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
			if err == unix.EAGAIN || err == unix.EINTR {
				break
			}
			if err != nil {
				return ready, fmt.Errorf("read notify socket: %w", err)
			}
			m := message{data: buf[:n], fds: parseRights(oob[:oobn])}
			isReady, err := r.relay(m)
			if err != nil {
				return ready, err
			}
			ready = ready || isReady
			if ready && untilReady {
				return true, nil
			}
		}
		if exited {
			return ready, nil
		}
		if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
			return ready, fmt.Errorf("wait for notify messages: %w", err)
		}
		exited = fds[1].Revents != 0
	}
}

// relay passes one message on, without its MAINPID= lines: a pid of the
// container's PID namespace would name some other process of the host.
// It reports whether the message said READY=1.
func (r *Relay) relay(m message) (ready bool, err error) {
	defer closeFds(m.fds)
	var kept [][]byte
	for _, line := range bytes.Split(m.data, []byte{'\n'}) {
		if bytes.HasPrefix(line, []byte("MAINPID=")) {
			continue
		}
		if bytes.Equal(line, []byte("READY=1")) {
			ready = true
		}
		kept = append(kept, line)
	}
	data := bytes.Join(kept, []byte{'\n'})
	if len(bytes.TrimSpace(data)) == 0 && len(m.fds) == 0 {
		return ready, nil
	}
	var oob []byte
	if len(m.fds) > 0 {
		oob = unix.UnixRights(m.fds...)
	}
	if err := sendmsg(r.out, data, oob); err != nil {
		return ready, fmt.Errorf("relay notify message: %w", err)
	}
	return ready, nil
}

// sendmsg sends one datagram with control data on a connected socket
// (net refuses WriteMsgUnix on those).
func sendmsg(conn *net.UnixConn, data, oob []byte) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	err = raw.Write(func(fd uintptr) bool {
		sendErr = unix.Sendmsg(int(fd), data, oob, nil, 0)
		return sendErr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return sendErr
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// announce sends MAINPID= and waits for the barrier.
func (r *Relay) announce(mainPid int) error {
	if mainPid > 0 {
		msg := []byte("MAINPID=" + strconv.Itoa(mainPid))
		if _, err := r.out.Write(msg); err != nil {
			return fmt.Errorf("send MAINPID: %w", err)
		}
	}
	return r.barrier()
}

// barrier sends BARRIER=1 with the write end of a pipe, which the service
// manager closes once it has processed every message before it
// (sd_notify_barrier(3)); a reader that drops the descriptor closes it
// too. EOF on the read end is the answer.
func (r *Relay) barrier() error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	err = sendmsg(r.out, []byte("BARRIER=1"), unix.UnixRights(int(pw.Fd())))
	pw.Close()
	if err != nil {
		return fmt.Errorf("send BARRIER=1: %w", err)
	}
	if err := pr.SetReadDeadline(time.Now().Add(BarrierTimeout)); err != nil {
		return err
	}
	var b [1]byte
	n, err := pr.Read(b[:])
	switch {
	case n > 0:
		return errors.New("BARRIER=1: unexpected data on the barrier pipe")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrNoBarrier
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("BARRIER=1: %w", err)
	}
	return nil
}

// Close removes the socket and closes the connections. Messages not yet
// relayed are dropped. Call it once Serve or WaitReady returned.
func (r *Relay) Close() error {
	err := r.in.Close()
	if uerr := unix.Unlinkat(int(r.dir.Fd()), r.name, 0); uerr != nil &&
		uerr != unix.ENOENT && err == nil {
		err = uerr
	}
	r.dir.Close()
	if oerr := r.out.Close(); err == nil {
		err = oerr
	}
	return err
}
