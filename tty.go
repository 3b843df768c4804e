package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// ttyCopier joins the caller's stdio and the pty master of a foreground
// process with terminal: true (run, exec -t). Output of the pty goes to
// stdout, stdin goes to the pty; when stdin is a terminal it is put in
// raw mode, so that keys like ^C and ^Z reach the process's terminal
// rather than acting on towel, and close puts it back as it was.
type ttyCopier struct {
	master *os.File

	// raw is the caller's terminal on stdin, in raw mode until close; nil
	// when stdin is not a terminal.
	raw console.Console

	// sizer is the first of the caller's stdin, stdout and stderr that
	// is a terminal: the pty follows its size. Nil when there is none,
	// and the pty keeps process.consoleSize.
	sizer console.Console

	outDone   chan struct{}
	copied    atomic.Int64 // bytes of output so far, for drain
	closeOnce sync.Once
}

// drainIdle is how long close waits for more output once the process is
// gone, in case some other process still holds the pty slave open.
const drainIdle = 250 * time.Millisecond

// newTTYCopier starts copying between master and our stdio. The caller
// must call close once the process has exited, on every path.
func newTTYCopier(master *os.File) (*ttyCopier, error) {
	return startTTYCopier(master, os.Stdin, os.Stdout, os.Stderr)
}

func startTTYCopier(master, stdin, stdout, stderr *os.File) (*ttyCopier,
	error,
) {
	// Like runc, the pty passes "\n" on as it is: the caller's terminal
	// adds the "\r" (raw mode keeps OPOST), and a pipe gets plain lines.
	if err := console.ClearONLCR(master.Fd()); err != nil {
		return nil, fmt.Errorf("clear onlcr on the pty: %w", err)
	}
	t := &ttyCopier{master: master, outDone: make(chan struct{})}
	for _, f := range []*os.File{stdin, stdout, stderr} {
		if c, err := console.ConsoleFromFile(f); err == nil {
			t.sizer = c
			break
		}
	}
	if _, err := unix.IoctlGetTermios(int(stdin.Fd()), unix.TCGETS); err == nil {
		// The settings to restore are read once we may touch them.
		waitForeground(stdin)
		c, err := console.ConsoleFromFile(stdin)
		if err != nil {
			return nil, fmt.Errorf("read the terminal on stdin: %w", err)
		}
		if err := c.SetRaw(); err != nil {
			return nil, fmt.Errorf("set the terminal on stdin raw: %w", err)
		}
		t.raw = c
	}
	t.resize()

	go t.copyOut(stdout)
	go t.copyIn(stdin)
	return t, nil
}

// waitForeground stops us until we are in the foreground of the terminal
// f, as job control would stop any program that touches its terminal from
// the background (termios(3)). It cannot be left to the kernel: it stops
// a process with SIGTTOU and SIGTTIN only when they are not caught, and
// the signal forwarder catches them, so the kernel would retry the call
// forever. A terminal that is not our controlling one has no job control.
func waitForeground(f *os.File) {
	for {
		pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
		if err != nil || pgrp == unix.Getpgrp() {
			return
		}
		stopSelf()
	}
}

// stopSelf stops the process until a SIGCONT (the shell's fg; the end of
// the shell sends SIGHUP too, which is forwarded). The signal goes to this
// very thread, which then stops before its next system call, so that the
// caller never acts on what it saw before the stop.
func stopSelf() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGSTOP)
}

// copyOut copies the pty's output to out until the last slave is closed
// (EIO) or close gives up on it. Output that out refuses (a closed pipe)
// is still read, so that the process never blocks on a full pty.
func (t *ttyCopier) copyOut(out *os.File) {
	defer close(t.outDone)
	buf := make([]byte, 32*1024)
	var w io.Writer = out
	for {
		n, err := t.master.Read(buf)
		if n > 0 {
			t.copied.Add(int64(n))
			if _, werr := w.Write(buf[:n]); werr != nil {
				w = io.Discard
			}
		}
		if err != nil {
			return
		}
	}
}

// copyIn copies in to the pty. At the end of in it types the terminal's
// end-of-file character, as a user pressing ^D would, so that a process
// reading its terminal sees the end of its input.
func (t *ttyCopier) copyIn(in *os.File) {
	buf := make([]byte, 32*1024)
	var last byte = '\n'
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := t.master.Write(buf[:n]); werr != nil {
				return
			}
			last = buf[n-1]
		}
		if errors.Is(err, io.EOF) {
			t.sendEOF(last != '\n')
			return
		}
		if err != nil {
			return
		}
	}
}

// sendEOF writes VEOF when the pty is in canonical mode, where it ends
// the input (termios(3)); twice after a partial line, as the first only
// ends that line. A process that turned canonical mode off gets nothing.
func (t *ttyCopier) sendEOF(partialLine bool) {
	tio, err := unix.IoctlGetTermios(int(t.master.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ICANON == 0 {
		return
	}
	eof := []byte{tio.Cc[unix.VEOF]}
	if partialLine {
		eof = append(eof, eof[0])
	}
	_, _ = t.master.Write(eof)
}

// resize gives the pty the size of the caller's terminal. A terminal
// whose size was never set (0x0) leaves the pty as it is.
func (t *ttyCopier) resize() {
	if t.sizer == nil {
		return
	}
	sz, err := t.sizer.Size()
	if err != nil || sz.Height == 0 && sz.Width == 0 {
		return
	}
	ws := &unix.Winsize{Row: sz.Height, Col: sz.Width}
	_ = unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
}

// close waits for the process's output to drain, restores the caller's
// terminal and closes the master. It is safe to call more than once.
func (t *ttyCopier) close() {
	t.closeOnce.Do(func() {
		t.drain()
		if t.raw != nil {
			_ = t.raw.Reset()
		}
		t.master.Close()
	})
}

// drain waits until the output copy ends, or until no output came for
// drainIdle.
func (t *ttyCopier) drain() {
	timer := time.NewTimer(drainIdle)
	defer timer.Stop()
	last := t.copied.Load()
	for {
		select {
		case <-t.outDone:
			return
		case <-timer.C:
			n := t.copied.Load()
			if n == last {
				return
			}
			last = n
			timer.Reset(drainIdle)
		}
	}
}
