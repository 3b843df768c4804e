package notify

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// host is a fake service manager: a datagram socket that records what it
// gets and, like systemd, closes the fds that come with each message.
type host struct {
	path string
	conn *net.UnixConn
}

func newHost(t *testing.T) *host {
	t.Helper()
	path := filepath.Join(t.TempDir(), "host.sock")
	conn, err := net.ListenUnixgram("unixgram",
		&net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &host{path: path, conn: conn}
}

// recv returns the next message and how many fds it carried.
func (h *host) recv(t *testing.T) (string, int) {
	t.Helper()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(16*4))
	if err := h.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, oobn, _, _, err := h.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("host: no message: %v", err)
	}
	fds := parseRights(oob[:oobn])
	closeFds(fds)
	return string(buf[:n]), len(fds)
}

// expectNone checks that no message is queued for the host.
func (h *host) expectNone(t *testing.T) {
	t.Helper()
	buf := make([]byte, 4096)
	if err := h.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, err := h.conn.Read(buf); err == nil {
		t.Errorf("host got an unexpected message %q", buf[:n])
	}
}

// listen makes a relay in a new directory and returns it with the path
// of its socket.
func listen(t *testing.T, dir string, h *host) (*Relay, string) {
	t.Helper()
	r, err := Listen(dir, "notify", h.path)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, filepath.Join(dir, "notify")
}

// send is the container's sd_notify: one datagram, with fds if any.
func send(t *testing.T, path, msg string, fds ...int) {
	t.Helper()
	conn, err := net.DialUnix("unixgram", nil,
		&net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("container: connect: %v", err)
	}
	defer conn.Close()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := sendmsg(conn, []byte(msg), oob); err != nil {
		t.Fatalf("container: send: %v", err)
	}
}

// exitFd returns an fd that is readable, like the pidfd of a process that
// has exited, or not yet, until the returned func is called.
func exitFd(t *testing.T) (fd int, exit func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return int(r.Fd()), func() { w.Close() }
}

func TestWaitReadyRelaysUntilReadyThenMainPid(t *testing.T) {
	h := newHost(t)
	r, sock := listen(t, t.TempDir(), h)
	fd, _ := exitFd(t)

	send(t, sock, "STATUS=starting")
	send(t, sock, "MAINPID=1\nSTATUS=almost")
	send(t, sock, "READY=1\nSTATUS=up")
	done := make(chan error, 1)
	go func() { done <- r.WaitReady(4242, fd) }()

	for _, want := range []string{"STATUS=starting", "STATUS=almost",
		"READY=1\nSTATUS=up", "MAINPID=4242"} {
		if got, _ := h.recv(t); got != want {
			t.Errorf("host got %q, want %q", got, want)
		}
	}
	got, nfds := h.recv(t)
	if got != "BARRIER=1" || nfds != 1 {
		t.Errorf("host got %q with %d fds, want BARRIER=1 with 1", got, nfds)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("WaitReady: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitReady did not return after the barrier")
	}
}

func TestWaitReadyStopsWhenTheProcessExits(t *testing.T) {
	h := newHost(t)
	r, sock := listen(t, t.TempDir(), h)
	fd, exit := exitFd(t)

	// A message sent just before the exit is still relayed.
	send(t, sock, "STATUS=dying")
	exit()
	if err := r.WaitReady(4242, fd); !errors.Is(err, ErrStopped) {
		t.Errorf("WaitReady = %v, want ErrStopped", err)
	}
	if got, _ := h.recv(t); got != "STATUS=dying" {
		t.Errorf("host got %q", got)
	}
	h.expectNone(t)
}

func TestWaitReadyPrefersReadyQueuedBeforeExit(t *testing.T) {
	h := newHost(t)
	r, sock := listen(t, t.TempDir(), h)
	fd, exit := exitFd(t)

	send(t, sock, "READY=1")
	exit()
	// READY=1, MAINPID= and BARRIER=1, whose fd the read closes.
	go func() {
		buf := make([]byte, 4096)
		for i := 0; i < 3; i++ {
			if _, err := h.conn.Read(buf); err != nil {
				return
			}
		}
	}()
	if err := r.WaitReady(4242, fd); err != nil {
		t.Errorf("WaitReady = %v, want nil", err)
	}
}

func TestWaitReadyBarrierTimeout(t *testing.T) {
	old := BarrierTimeout
	BarrierTimeout = 100 * time.Millisecond
	defer func() { BarrierTimeout = old }()

	h := newHost(t)
	r, sock := listen(t, t.TempDir(), h)
	fd, _ := exitFd(t)
	// The host never reads: the barrier's fd stays open in its queue.
	send(t, sock, "READY=1")
	if err := r.WaitReady(1, fd); !errors.Is(err, ErrNoBarrier) {
		t.Errorf("WaitReady = %v, want ErrNoBarrier", err)
	}
}

func TestServeRelaysFdsAndDropsMainPid(t *testing.T) {
	h := newHost(t)
	r, sock := listen(t, t.TempDir(), h)
	fd, exit := exitFd(t)
	served := make(chan error, 1)
	go func() { served <- r.Serve(fd) }()

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	send(t, sock, "FDSTORE=1\nFDNAME=pipe", int(pw.Fd()))
	pw.Close()
	if got, nfds := h.recv(t); got != "FDSTORE=1\nFDNAME=pipe" || nfds != 1 {
		t.Errorf("host got %q with %d fds", got, nfds)
	}
	// Only a MAINPID: nothing is left to relay.
	send(t, sock, "MAINPID=1")
	send(t, sock, "WATCHDOG=1")
	if got, _ := h.recv(t); got != "WATCHDOG=1" {
		t.Errorf("host got %q, want WATCHDOG=1", got)
	}
	// Every copy of the relayed fd was closed: the pipe reads EOF.
	if err := pr.SetReadDeadline(time.Now().Add(time.Second)); err == nil {
		if n, err := pr.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("relayed fd still open somewhere: %d, %v", n, err)
		}
	}

	// The last words of a process that exits are relayed too.
	send(t, sock, "STOPPING=1")
	exit()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the exit")
	}
	if got, _ := h.recv(t); got != "STOPPING=1" {
		t.Errorf("host got %q, want STOPPING=1", got)
	}

	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after Close: %v", err)
	}
}

func TestServeWithoutExitFdRelaysTheQueue(t *testing.T) {
	h := newHost(t)
	r, sock := listen(t, t.TempDir(), h)
	send(t, sock, "STATUS=one")
	send(t, sock, "STATUS=two")
	if err := r.Serve(-1); err != nil {
		t.Fatalf("Serve(-1) = %v", err)
	}
	for _, want := range []string{"STATUS=one", "STATUS=two"} {
		if got, _ := h.recv(t); got != want {
			t.Errorf("host got %q, want %q", got, want)
		}
	}
}

func TestListenInDeepDirectoryAnyoneCanConnect(t *testing.T) {
	h := newHost(t)
	dir := t.TempDir()
	for len(dir) < 120 {
		dir = filepath.Join(dir, strings.Repeat("d", 20))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, sock := listen(t, dir, h)
	st, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("socket mode %v, want a socket with 0777", st.Mode())
	}
}

func TestListenErrors(t *testing.T) {
	h := newHost(t)
	if _, err := Listen(t.TempDir(), "n", filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("Listen to a host socket that does not exist succeeded")
	}
	if _, err := Listen(filepath.Join(t.TempDir(), "none"), "n", h.path); err == nil {
		t.Error("Listen in a directory that does not exist succeeded")
	}
}
