package main

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// ptyPair is a pty: master and an open slave.
type ptyPair struct {
	master, slave *os.File
}

func newPtyPair(t *testing.T) *ptyPair {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(),
		unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		t.Fatal(errno)
	}
	slave := os.NewFile(fd, "slave")
	t.Cleanup(func() { slave.Close() })
	return &ptyPair{master: master, slave: slave}
}

func (p *ptyPair) setSize(t *testing.T, rows, cols uint16) {
	t.Helper()
	ws := &unix.Winsize{Row: rows, Col: cols}
	if err := unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		t.Fatal(err)
	}
}

func (p *ptyPair) size(t *testing.T) (rows, cols uint16) {
	t.Helper()
	ws, err := unix.IoctlGetWinsize(int(p.master.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		t.Fatal(err)
	}
	return ws.Row, ws.Col
}

func termios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}

// readFor reads from f until want has arrived or 5 seconds passed.
func readFor(t *testing.T, f *os.File, want string) {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		var all []byte
		buf := make([]byte, 1024)
		for !bytes.Contains(all, []byte(want)) {
			n, err := f.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				break
			}
		}
		got <- all
	}()
	select {
	case all := <-got:
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("read %q, want %q", all, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%q did not arrive", want)
	}
}

// TestTTYCopierJoinsTerminals: the caller's terminal is raw while the
// copier runs, output and input go through, and close restores the
// terminal once the process's side is closed.
func TestTTYCopierJoinsTerminals(t *testing.T) {
	host, ct := newPtyPair(t), newPtyPair(t)
	before := termios(t, host.slave)

	tty, err := startTTYCopier(ct.master, host.slave, host.slave, host.slave)
	if err != nil {
		t.Fatal(err)
	}
	raw := termios(t, host.slave)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("caller's terminal not raw: lflag %#o", raw.Lflag)
	}
	if termios(t, ct.slave).Oflag&unix.ONLCR != 0 {
		t.Error("the process's pty still turns \\n into \\r\\n")
	}

	// The caller's terminal adds the \r, once.
	if _, err := ct.slave.Write([]byte("out\n")); err != nil {
		t.Fatal(err)
	}
	readFor(t, host.master, "out\r\n")
	// ^C is a byte for the process's terminal, not a signal for us; the
	// process's terminal is raw here to show it as it is.
	if c, err := console.ConsoleFromFile(ct.slave); err != nil {
		t.Fatal(err)
	} else if err := c.SetRaw(); err != nil {
		t.Fatal(err)
	}
	if _, err := host.master.Write([]byte("in\x03")); err != nil {
		t.Fatal(err)
	}
	readFor(t, ct.slave, "in\x03")

	ct.slave.Close()
	tty.close()
	if after := termios(t, host.slave); after != before {
		t.Errorf("terminal not restored:\nbefore %+v\nafter  %+v", before, after)
	}
}

// TestTTYCopierSizes: the pty takes the caller's terminal size at start
// and on resize; a caller without a sized terminal leaves consoleSize.
func TestTTYCopierSizes(t *testing.T) {
	t.Run("follows the caller", func(t *testing.T) {
		host, ct := newPtyPair(t), newPtyPair(t)
		host.setSize(t, 30, 100)
		tty, err := startTTYCopier(ct.master, host.slave, host.slave,
			host.slave)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { ct.slave.Close(); tty.close() }()
		if r, c := ct.size(t); r != 30 || c != 100 {
			t.Errorf("size at start %dx%d, want 30x100", r, c)
		}
		host.setSize(t, 40, 120)
		tty.resize()
		if r, c := ct.size(t); r != 40 || c != 120 {
			t.Errorf("size after resize %dx%d, want 40x120", r, c)
		}
	})
	t.Run("stdout's terminal when stdin is a pipe", func(t *testing.T) {
		host, ct := newPtyPair(t), newPtyPair(t)
		host.setSize(t, 33, 99)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		defer r.Close()
		before := termios(t, host.slave)
		tty, err := startTTYCopier(ct.master, r, host.slave, host.slave)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { ct.slave.Close(); tty.close() }()
		if r, c := ct.size(t); r != 33 || c != 99 {
			t.Errorf("size %dx%d, want 33x99", r, c)
		}
		if termios(t, host.slave) != before {
			t.Error("a terminal that is not stdin was made raw")
		}
	})
	t.Run("no terminal keeps consoleSize", func(t *testing.T) {
		host, ct := newPtyPair(t), newPtyPair(t)
		ct.setSize(t, 10, 50)
		// A terminal with no size set (0x0) is no better.
		tty, err := startTTYCopier(ct.master, host.slave, host.slave,
			host.slave)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { ct.slave.Close(); tty.close() }()
		if r, c := ct.size(t); r != 10 || c != 50 {
			t.Errorf("size %dx%d, want 10x50", r, c)
		}
	})
}

// TestTTYCopierStdinEOF: when stdin ends, the process reading its
// terminal gets what was sent, then end of file.
func TestTTYCopierStdinEOF(t *testing.T) {
	for _, input := range []string{"line\n", "partial", ""} {
		t.Run(input, func(t *testing.T) {
			ct := newPtyPair(t)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			out, err := os.Create(os.DevNull)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			tty, err := startTTYCopier(ct.master, r, out, out)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { ct.slave.Close(); tty.close() }()
			w.WriteString(input)
			w.Close()

			got := make(chan string, 1)
			go func() {
				var all []byte
				buf := make([]byte, 100)
				for {
					n, err := ct.slave.Read(buf)
					if n == 0 || err != nil {
						got <- string(all)
						return
					}
					all = append(all, buf[:n]...)
				}
			}()
			select {
			case s := <-got:
				if s != input {
					t.Errorf("read %q before EOF, want %q", s, input)
				}
			case <-time.After(5 * time.Second):
				// The reader stays blocked until cleanup closes the
				// slave.
				t.Fatal("no EOF")
			}
		})
	}
}

// TestTTYCopierCloseWithSlaveHeld: a pty slave that some other process
// keeps open does not keep close from restoring the terminal.
func TestTTYCopierCloseWithSlaveHeld(t *testing.T) {
	host, ct := newPtyPair(t), newPtyPair(t)
	before := termios(t, host.slave)
	tty, err := startTTYCopier(ct.master, host.slave, host.slave, host.slave)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { tty.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("close hangs while the slave is open")
	}
	if termios(t, host.slave) != before {
		t.Error("terminal not restored")
	}
}

// TestTTYCopierKeepsReadingWhenStdoutIsGone: output nobody takes is still
// read, so the process does not block on a full pty.
func TestTTYCopierKeepsReadingWhenStdoutIsGone(t *testing.T) {
	ct := newPtyPair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	tty, err := startTTYCopier(ct.master, in, w, w)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ct.slave.Close(); tty.close(); w.Close() }()

	wrote := make(chan error, 1)
	go func() {
		// Far more than a pty buffers.
		_, err := ct.slave.Write(bytes.Repeat([]byte("x"), 1<<20))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Errorf("write: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the process blocks on its terminal")
	}
}
