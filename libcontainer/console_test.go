package libcontainer

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSendConsole: a console socket gets one message, named /dev/ptmx as
// runc names it, carrying the fd; a socket path longer than sun_path
// works too.
func TestSendConsole(t *testing.T) {
	deep := t.TempDir()
	for len(deep) < 120 {
		deep = filepath.Join(deep, strings.Repeat("d", 30))
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{t.TempDir(), deep} {
		path := filepath.Join(dir, "console.sock")
		// Listen where a long path fits: in the directory itself.
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chdir(dir); err != nil {
			t.Fatal(err)
		}
		ln, err := net.ListenUnix("unix",
			&net.UnixAddr{Name: "console.sock", Net: "unix"})
		os.Chdir(wd)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()

		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		go func() {
			defer w.Close()
			if err := sendConsole(path, w); err != nil {
				t.Errorf("sendConsole(%d bytes): %v", len(path), err)
			}
		}()

		conn, err := ln.AcceptUnix()
		if err != nil {
			t.Fatal(err)
		}
		name := make([]byte, 64)
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(name[:n]) != "/dev/ptmx" {
			t.Errorf("name %q, want /dev/ptmx", name[:n])
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			t.Fatalf("control messages %v, %v", msgs, err)
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			t.Fatalf("fds %v, %v", fds, err)
		}
		got := os.NewFile(uintptr(fds[0]), "got")
		if _, err := got.WriteString("x"); err != nil {
			t.Errorf("the fd received is not the pipe: %v", err)
		}
		got.Close()
		b := make([]byte, 1)
		if _, err := r.Read(b); err != nil || b[0] != 'x' {
			t.Errorf("read %q, %v", b, err)
		}
	}
}

func TestSendConsoleNobodyListens(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	path := filepath.Join(t.TempDir(), "none.sock")
	err = sendConsole(path, f)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("sendConsole to no socket = %v, want an error naming it", err)
	}
	if strings.Count(err.Error(), path) != 1 {
		t.Errorf("error names the path more than once: %v", err)
	}
}

func TestNotifySocketSetup(t *testing.T) {
	for _, tc := range []struct{ host, inside string }{
		{"/run/systemd/notify", "/run/systemd/notify"},
		{"/run//x/../notify.sock", "/run/notify.sock"},
		{"@abstract", notifyFallbackPath},
		{"relative.sock", notifyFallbackPath},
	} {
		if got := notifyPathInContainer(tc.host); got != tc.inside {
			t.Errorf("notifyPathInContainer(%q) = %q, want %q",
				tc.host, got, tc.inside)
		}
	}

	env := setEnv([]string{"A=1", "NOTIFY_SOCKET=/a", "B=2",
		"NOTIFY_SOCKET=/b"}, "NOTIFY_SOCKET", "/c")
	if strings.Join(env, " ") != "A=1 B=2 NOTIFY_SOCKET=/c" {
		t.Errorf("setEnv = %q", env)
	}
}
