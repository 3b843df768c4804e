package criu

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/checkpoint-restore/go-criu/v6/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// Callbacks are called as criu's notifications come in, in the order
// below, from the goroutine that called Dump or Restore. A nil callback is
// skipped; an error from one fails the dump or restore (criu then resumes
// or kills the processes it was working on).
type Callbacks struct {
	// Started is called once `criu swrk` runs, before it gets the
	// request, with criu's pid: a restore puts criu into the container's
	// cgroup here, so that what it restores starts there.
	Started func(criuPid int) error

	// NetworkLock and NetworkUnlock bracket the time the processes are
	// stopped, for a caller that manages the network to block and
	// unblock traffic.
	NetworkLock   func() error
	NetworkUnlock func() error

	// PostDump is called once the images are written, before criu kills
	// (or, with LeaveRunning, resumes) the processes.
	PostDump func() error

	// SetupNamespaces is called on restore once init exists in its new
	// namespaces, before anything of it runs: the prestart and
	// createRuntime hooks run here. pid is init's pid on the host.
	SetupNamespaces func(pid int) error

	// PostRestore is called once every process is restored, before they
	// resume. pid is init's pid on the host.
	PostRestore func(pid int) error

	// OrphanPtsMaster receives the master of the restored terminal; the
	// callback owns the file.
	OrphanPtsMaster func(master *os.File) error
}

// swrkFiles are the files `criu swrk` runs with.
type swrkFiles struct {
	// stdin, stdout and stderr become criu's stdio, which a restore
	// hands to the restored processes in place of their old pipes.
	stdin, stdout, stderr *os.File

	// extra are passed at fds 4, 5, ...: fd 3 is the swrk socket.
	extra []*os.File
}

// firstExtraFd is the fd criu gets extra[0] at.
const firstExtraFd = 4

// swrkRun is one request to one `criu swrk`.
type swrkRun struct {
	req   *rpc.CriuReq
	files swrkFiles
	cb    *Callbacks

	// statusFd, if not -1, gets one \0 byte on the "status-ready"
	// notification of a lazy-pages dump (criu 3.15 and newer announce
	// the page server that way rather than writing to an fd itself).
	statusFd int
}

// run starts `criu swrk`, sends the request, answers notifications until
// criu replies to the request, and waits for criu to exit.
func (r *swrkRun) run() (*rpc.CriuResp, error) {
	path, err := exec.LookPath("criu")
	if err != nil {
		return nil, ErrNotFound
	}
	pair, err := unix.Socketpair(unix.AF_UNIX,
		unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair for criu: %w", err)
	}
	ours := os.NewFile(uintptr(pair[0]), "criu-swrk-client")
	theirs := os.NewFile(uintptr(pair[1]), "criu-swrk-server")
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, fmt.Errorf("criu socket: %w", err)
	}
	conn := fc.(*net.UnixConn)
	defer conn.Close()

	cmd := exec.Command(path, "swrk", "3")
	cmd.Stdin = r.files.stdin
	cmd.Stdout = r.files.stdout
	cmd.Stderr = r.files.stderr
	cmd.ExtraFiles = append([]*os.File{theirs}, r.files.extra...)
	err = cmd.Start()
	// Only criu holds the other end now: if it dies, reads see EOF.
	theirs.Close()
	if err != nil {
		return nil, fmt.Errorf("start criu: %w", err)
	}
	waited := false
	defer func() {
		if !waited {
			conn.Close()
			_ = cmd.Wait()
		}
	}()

	if r.cb.Started != nil {
		if err := r.cb.Started(cmd.Process.Pid); err != nil {
			return nil, err
		}
	}
	resp, err := r.converse(conn)
	if err != nil {
		return nil, err
	}

	// criu exits once we close our end; a pre-dump criu waits for more
	// requests and exits non-zero when there are none, which is fine.
	_ = conn.CloseWrite()
	waited = true
	err = cmd.Wait()
	if err != nil && r.req.GetType() != rpc.CriuReqType_PRE_DUMP {
		return nil, fmt.Errorf("criu: %w", err)
	}
	return resp, nil
}

// converse sends the request and handles what comes back.
func (r *swrkRun) converse(conn *net.UnixConn) (*rpc.CriuResp, error) {
	if err := send(conn, r.req); err != nil {
		return nil, err
	}
	buf := make([]byte, 16*4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return nil, fmt.Errorf("read from criu: %w", err)
		}
		fds := parseFds(oob[:oobn])
		if n == 0 {
			closeAll(fds)
			return nil, errors.New("criu exited without an answer")
		}
		if n == len(buf) {
			closeAll(fds)
			return nil, errors.New("criu's answer is too long")
		}
		resp := &rpc.CriuResp{}
		if err := proto.Unmarshal(buf[:n], resp); err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("parse criu's answer: %w", err)
		}
		if !resp.GetSuccess() {
			closeAll(fds)
			return resp, failure(resp)
		}
		if resp.GetType() != rpc.CriuReqType_NOTIFY {
			closeAll(fds)
			return resp, nil
		}
		if err := r.notify(resp.GetNotify(), fds); err != nil {
			return nil, err
		}
		t := rpc.CriuReqType_NOTIFY
		ack := &rpc.CriuReq{Type: &t, NotifySuccess: proto.Bool(true)}
		if err := send(conn, ack); err != nil {
			return nil, err
		}
	}
}

// notify dispatches one notification; it owns fds.
func (r *swrkRun) notify(n *rpc.CriuNotify, fds []int) error {
	if n == nil {
		closeAll(fds)
		return errors.New("criu sent an empty notification")
	}
	cb := r.cb
	call := func(f func() error) error {
		if f == nil {
			return nil
		}
		return f()
	}
	callPid := func(f func(int) error) error {
		if f == nil {
			return nil
		}
		return f(int(n.GetPid()))
	}

	script := n.GetScript()
	if script != "orphan-pts-master" {
		closeAll(fds)
	}
	switch script {
	case "network-lock":
		return call(cb.NetworkLock)
	case "network-unlock":
		return call(cb.NetworkUnlock)
	case "post-dump":
		return call(cb.PostDump)
	case "setup-namespaces":
		return callPid(cb.SetupNamespaces)
	case "post-restore":
		return callPid(cb.PostRestore)
	case "orphan-pts-master":
		if len(fds) == 0 {
			return errors.New("criu sent orphan-pts-master without an fd")
		}
		closeAll(fds[1:])
		master := os.NewFile(uintptr(fds[0]), "pty-master")
		if cb.OrphanPtsMaster == nil {
			master.Close()
			return nil
		}
		return cb.OrphanPtsMaster(master)
	case "status-ready":
		if r.statusFd < 0 {
			return nil
		}
		// Tell whoever waits that the page server is ready, then let
		// go of the fd so that they also see end-of-file.
		_, err := unix.Write(r.statusFd, []byte{0})
		unix.Close(r.statusFd)
		r.statusFd = -1
		if err != nil {
			return fmt.Errorf("write to --status-fd: %w", err)
		}
	}
	// Other scripts (pre-dump, pre-restore, post-setup-namespaces,
	// post-resume) need nothing from us.
	return nil
}

// FailedError is a dump, pre-dump or restore that criu reported as
// failed.
type FailedError struct {
	// Op is "dump", "pre-dump", "restore" or "feature check".
	Op string
	// Msg is why, from criu's log where that says more than its answer.
	Msg string
	// Log is the log file, when known.
	Log string
}

func (e *FailedError) Error() string {
	s := "criu " + e.Op + " failed: " + e.Msg
	if e.Log != "" {
		s += " (log: " + e.Log + ")"
	}
	return s
}

// failure turns an unsuccessful answer into an error.
func failure(resp *rpc.CriuResp) error {
	// criu's message is its first error, on one or more lines.
	msg := strings.Join(strings.Fields(resp.GetCrErrmsg()), " ")
	if msg == "" && resp.GetCrErrno() != 0 {
		msg = unix.Errno(resp.GetCrErrno()).Error()
	}
	if msg == "" {
		msg = "no reason given"
	}
	return &FailedError{Op: reqName(resp.GetType()), Msg: msg}
}

// withLog names the log of a failed request in err, and takes the reason
// from it: criu's answer carries its first error, which on this machine
// kind is a harmless one (it cannot raise its own RLIMIT_NOFILE without
// CAP_SYS_RESOURCE).
func withLog(err error, logPath string) error {
	var fe *FailedError
	if !errors.As(err, &fe) {
		if _, serr := os.Stat(logPath); serr != nil {
			// criu did not get as far as its log.
			return err
		}
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}
	fe.Log = logPath
	if msg := logError(logPath); msg != "" {
		fe.Msg = msg
	}
	return fe
}

// logError picks the first error of a criu log that is not about
// criu's own resource limits, without its time stamp, pid and source
// position:
//
//	(00.179696) Error (criu/files-reg.c:1790): Can't lookup mount=27 ...
//	(00.128371)     11: Error (soccr/soccr.c:529): Can't connect ...
func logError(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		_, rest, ok := strings.Cut(line, "Error (")
		if !ok {
			continue
		}
		_, msg, ok := strings.Cut(rest, "): ")
		if !ok || strings.HasPrefix(msg, "rlimit:") {
			continue
		}
		return strings.TrimSpace(msg)
	}
	return ""
}

func reqName(t rpc.CriuReqType) string {
	switch t {
	case rpc.CriuReqType_DUMP:
		return "dump"
	case rpc.CriuReqType_PRE_DUMP:
		return "pre-dump"
	case rpc.CriuReqType_RESTORE:
		return "restore"
	case rpc.CriuReqType_FEATURE_CHECK:
		return "feature check"
	}
	return "request " + strconv.Itoa(int(t))
}

func send(conn *net.UnixConn, req *rpc.CriuReq) error {
	data, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode criu request: %w", err)
	}
	if _, err := conn.Write(data); err != nil {
		return fmt.Errorf("write to criu: %w", err)
	}
	return nil
}

// parseFds returns the fds of SCM_RIGHTS messages in oob.
func parseFds(oob []byte) []int {
	if len(oob) == 0 {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
