package dmz

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Kind says how an Exe keeps the binary from being written.
type Kind int

const (
	// KindSealedSelf: the running binary is a sealed memfd already.
	KindSealedSelf Kind = iota
	// KindOverlay: the binary in a detached read-only overlayfs mount.
	KindOverlay
	// KindMemfd: a sealed memfd copy of the binary.
	KindMemfd
)

func (k Kind) String() string {
	switch k {
	case KindSealedSelf:
		return "sealed memfd (memfd-bind)"
	case KindOverlay:
		return "read-only overlayfs"
	case KindMemfd:
		return "sealed memfd copy"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Exe is a handle on the running binary that the container cannot write.
type Exe struct {
	// File is the binary to exec: an O_PATH fd in the overlay, or the
	// memfd. It is nil for KindSealedSelf, where /proc/self/exe is
	// already safe to exec.
	File *os.File

	Kind Kind

	// OverlayErr is why the overlay could not be used, for KindMemfd.
	OverlayErr error

	// mounts are the fds of the detached mounts behind KindOverlay.
	mounts []int
}

// ReleaseMounts closes the fds of the detached mounts behind the overlay,
// in the background. Closing the last fd of a detached mount tears it
// down and waits for an RCU grace period (dissolve_on_fput() in
// fs/namespace.c), about 0.25 ms each. Call it once the binary has been
// exec'd: a child forked before holds copies of the fds until its exec,
// and the last close should not be one that delays the child. File keeps
// what it needs of the mount alive.
func (e *Exe) ReleaseMounts() {
	mounts := e.mounts
	e.mounts = nil
	if len(mounts) == 0 {
		return
	}
	go func() {
		for _, fd := range mounts {
			unix.Close(fd)
		}
	}()
}

// Close releases the handle. With KindOverlay the private mount goes away
// with the last file that refers to it; with KindMemfd the copy is freed
// once no process runs it any more.
func (e *Exe) Close() error {
	if e == nil {
		return nil
	}
	for _, fd := range e.mounts {
		unix.Close(fd)
	}
	e.mounts = nil
	if e.File == nil {
		return nil
	}
	return e.File.Close()
}

// OpenSelf returns the running binary in a form the container cannot
// write: the binary itself if it is a sealed memfd, else a read-only
// overlay view of it, else a sealed memfd copy.
func OpenSelf() (*Exe, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer self.Close()

	if IsSealed(self) {
		return &Exe{Kind: KindSealedSelf}, nil
	}
	f, mounts, overlayErr := openThroughOverlay(self)
	if overlayErr == nil {
		return &Exe{File: f, Kind: KindOverlay, mounts: mounts}, nil
	}
	f, err = sealedCopy(self, "towel-init")
	if err != nil {
		return nil, fmt.Errorf("protect the runtime binary: %w",
			errors.Join(overlayErr, err))
	}
	return &Exe{File: f, Kind: KindMemfd, OverlayErr: overlayErr}, nil
}

// sameFile reports whether a and b are the same binary: same inode number,
// size and modification time. An overlay keeps a lower file's inode number
// but reports its own device, so the device is not compared.
func sameFile(a, b *os.File) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(int(a.Fd()), &sa); err != nil {
		return false, &os.PathError{Op: "fstat", Path: a.Name(), Err: err}
	}
	if err := unix.Fstat(int(b.Fd()), &sb); err != nil {
		return false, &os.PathError{Op: "fstat", Path: b.Name(), Err: err}
	}
	return sa.Ino == sb.Ino && sa.Size == sb.Size && sa.Mtim == sb.Mtim &&
		sa.Mode&unix.S_IFMT == unix.S_IFREG &&
		sb.Mode&unix.S_IFMT == unix.S_IFREG, nil
}
