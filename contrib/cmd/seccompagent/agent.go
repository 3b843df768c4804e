package main

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net"
	"os"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/seccomp"
)

// agent answers the notifications of every listener it is given.
type agent struct {
	// mkdirErrno, if set, is what mkdir and mkdirat fail with; else
	// they succeed and return mkdirValue.
	mkdirErrno unix.Errno
	mkdirValue uint64
	log        *log.Logger
}

// serve takes a listener from each connection to ln and answers its
// notifications, until ln is closed.
func (a *agent) serve(ln *net.UnixListener) error {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		go a.take(conn)
	}
}

// take receives one container's listener from conn and answers it until
// the container's filtered processes are gone.
func (a *agent) take(conn *net.UnixConn) {
	state, listener, err := seccomp.ReceiveNotifyFd(conn)
	conn.Close()
	if err != nil {
		a.log.Print(err)
		return
	}
	defer listener.Close()

	id := state.State.ID
	a.log.Printf("container %s (pid %d, metadata %q): listening",
		id, state.Pid, state.Metadata)
	if err := a.answer(listener); err != nil {
		a.log.Printf("container %s: %v", id, err)
	}
	a.log.Printf("container %s: done", id)
}

// answer answers notifications on listener until no process uses its
// filter any more.
func (a *agent) answer(listener *os.File) error {
	fd := libseccomp.ScmpFd(listener.Fd())
	for {
		req, err := libseccomp.NotifReceive(fd)
		if errors.Is(err, unix.ENOENT) {
			return nil // every filtered process has exited
		}
		if err != nil {
			return fmt.Errorf("receive notification: %w", err)
		}
		resp := a.decide(fd, req)
		err = libseccomp.NotifRespond(fd, resp)
		// ENOENT: the process was killed while it waited; nothing
		// waits for the answer any more.
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("answer notification: %w", err)
		}
	}
}

// decide answers one notification and logs it.
func (a *agent) decide(fd libseccomp.ScmpFd, req *libseccomp.ScmpNotifReq,
) *libseccomp.ScmpNotifResp {
	resp := &libseccomp.ScmpNotifResp{ID: req.ID}
	name, err := req.Data.Syscall.GetNameByArch(req.Data.Arch)
	if err != nil {
		name = fmt.Sprintf("syscall %d", req.Data.Syscall)
	}

	var pathArg int
	switch name {
	case "mkdir":
		pathArg = 0
	case "mkdirat":
		pathArg = 1
	default:
		// The kernel runs the call as if there were no filter. An
		// agent that must check the arguments cannot do this: the
		// process could change them once they have been read.
		resp.Flags = libseccomp.NotifRespFlagContinue
		a.log.Printf("pid %d: %s: let through", req.Pid, name)
		return resp
	}

	path := readPath(fd, req, req.Data.Args[pathArg])
	if a.mkdirErrno != 0 {
		resp.Error = int32(a.mkdirErrno)
		a.log.Printf("pid %d: %s %s: %v", req.Pid, name, path,
			a.mkdirErrno)
	} else {
		resp.Val = a.mkdirValue
		a.log.Printf("pid %d: %s %s: returned %d, nothing made",
			req.Pid, name, path, a.mkdirValue)
	}
	return resp
}

// readPath reads the NUL-terminated string at addr in the memory of the
// notifying process, for the log. It returns a quoted string, or a note
// saying why there is none.
func readPath(fd libseccomp.ScmpFd, req *libseccomp.ScmpNotifReq,
	addr uint64,
) string {
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", req.Pid))
	if err != nil {
		return "(path unknown: " + err.Error() + ")"
	}
	defer mem.Close()
	// Once mem is open, checking that the notification is still
	// pending proves the pid was not reused by another process.
	if err := libseccomp.NotifIDValid(fd, req.ID); err != nil {
		return "(path unknown: the process is gone)"
	}

	buf := make([]byte, unix.PathMax)
	n, err := mem.ReadAt(buf, int64(addr))
	if n == 0 && err != nil {
		return "(path unknown: " + err.Error() + ")"
	}
	if end := bytes.IndexByte(buf[:n], 0); end >= 0 {
		n = end
	}
	return fmt.Sprintf("%q", buf[:n])
}
