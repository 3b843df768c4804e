package dmz

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// RequiredSeals are the seals that make a memfd unchangeable: no more
// seals, no writes, no size change (memfd_create(2), fcntl(2) "File
// Sealing"). A memfd with all of them is safe to hand to a container.
const RequiredSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK |
	unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// IsSealed reports whether f is a memfd with every one of RequiredSeals.
// Any other file, or a memfd still open to changes, is not.
func IsSealed(f *os.File) bool {
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	return err == nil && seals&RequiredSeals == RequiredSeals
}

// NewMemfd creates an empty memfd named name that allows sealing and, on
// kernels that know vm.memfd_noexec (Linux 6.3), is executable.
func NewMemfd(name string) (*os.File, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// A kernel older than MFD_EXEC: every memfd is executable.
		fd, err = unix.MemfdCreate(name, flags)
	}
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	return os.NewFile(uintptr(fd), "memfd:"+name), nil
}

// Seal makes the memfd f read-only and executable by everyone, then adds
// RequiredSeals, and F_SEAL_EXEC (Linux 6.3) where the kernel has it so
// the mode stays.
func Seal(f *os.File) error {
	if err := unix.Fchmod(int(f.Fd()), 0o555); err != nil {
		return &os.PathError{Op: "chmod", Path: f.Name(), Err: err}
	}
	_, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS,
		RequiredSeals|unix.F_SEAL_EXEC)
	if errors.Is(err, unix.EINVAL) {
		_, err = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, RequiredSeals)
	}
	if err != nil {
		return &os.PathError{Op: "seal", Path: f.Name(), Err: err}
	}
	return nil
}

// sealedCopy copies src into a new memfd named name and seals it.
func sealedCopy(src *os.File, name string) (*os.File, error) {
	memfd, err := NewMemfd(name)
	if err != nil {
		return nil, err
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		memfd.Close()
		return nil, fmt.Errorf("copy %s: %w", src.Name(), err)
	}
	// os.File's ReadFrom uses copy_file_range(2) or sendfile(2).
	if _, err := memfd.ReadFrom(src); err != nil {
		memfd.Close()
		return nil, fmt.Errorf("copy %s: %w", src.Name(), err)
	}
	if err := Seal(memfd); err != nil {
		memfd.Close()
		return nil, err
	}
	return memfd, nil
}

// CopySealed copies the file at path into a new sealed memfd named name.
func CopySealed(path, name string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return sealedCopy(src, name)
}
