package dmz

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNoStub means this build of towel carries no dmz stub: it was built
// with `go build` rather than make, with the runc_nodmz tag, or for an
// architecture the stub does not support.
var ErrNoStub = errors.New("towel was built without the dmz stub")

// HasStub reports whether the stub is embedded in this build.
func HasStub() bool { return stubBinary() != nil }

// Stub is the dmz stub in a sealed memfd, ready to be exec'd by fd.
//
// Exec'ing it with the container program's path and argv makes the stub
// exec that program: the process runs the stub for the moment between
// the two execve(2) calls, and the runtime's binary is never what the
// program replaces. A file without file capabilities in between changes
// no capability set: execve(2) keeps the inheritable, ambient and bounding
// sets and computes the permitted one from them (capabilities(7)).
type Stub struct {
	file *os.File
}

// NewStub copies the embedded stub into a new sealed memfd. The memfd is
// close-on-exec, which does not stop it from being exec'd by fd.
func NewStub() (*Stub, error) {
	data := stubBinary()
	if data == nil {
		return nil, ErrNoStub
	}
	f, err := NewMemfd("towel-dmz")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("write dmz stub: %w", err)
	}
	if err := Seal(f); err != nil {
		f.Close()
		return nil, err
	}
	return &Stub{file: f}, nil
}

// Close releases the memfd.
func (s *Stub) Close() error { return s.file.Close() }

// CheckExec reports whether the calling thread, with its effective
// credentials, may exec the stub (faccessat2(2) with AT_EACCESS, Linux
// 5.8). It fails where vm.memfd_noexec forbids executable memfds, or where
// the process would lack the permission for another reason.
func (s *Stub) CheckExec() error {
	err := unix.Faccessat2(int(s.file.Fd()), "", unix.X_OK,
		unix.AT_EMPTY_PATH|unix.AT_EACCESS)
	if err != nil {
		return &os.PathError{Op: "check exec permission", Path: s.file.Name(),
			Err: err}
	}
	return nil
}

// Exec replaces the process with the stub, which in turn execs path with
// argv and env. It returns only on failure. path must be what execve(2)
// would be given for the program; argv[0] stays the program's own.
func (s *Stub) Exec(path string, argv, env []string) error {
	stubArgv := append([]string{path}, argv...)
	argvp, err := syscall.SlicePtrFromStrings(stubArgv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	empty, err := unix.BytePtrFromString("")
	if err != nil {
		return err
	}
	// execveat(2) on the fd with AT_EMPTY_PATH: the stub is found by
	// its fd, never by a path inside the container.
	_, _, errno := unix.RawSyscall6(unix.SYS_EXECVEAT, s.file.Fd(),
		uintptr(unsafe.Pointer(empty)), uintptr(unsafe.Pointer(&argvp[0])),
		uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	return os.NewSyscallError("execveat dmz stub", errno)
}
