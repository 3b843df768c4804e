package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxInsns is BPF_MAXINSNS, the longest classic BPF program the kernel
// takes (include/uapi/linux/bpf_common.h).
const maxInsns = 4096

// probes caches what the kernel answered, so that each question is asked
// at most once per process.
var probes struct {
	sync.Mutex
	actions map[uint32]bool
	flags   map[uint]bool
}

// actionSupported asks the kernel whether it knows the SECCOMP_RET_*
// action ret, with SECCOMP_GET_ACTION_AVAIL (Linux 4.14, seccomp(2)).
func actionSupported(ret uint32) bool {
	probes.Lock()
	defer probes.Unlock()
	if ok, done := probes.actions[ret]; done {
		return ok
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP,
		unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&ret)))
	ok := errno == 0
	if probes.actions == nil {
		probes.actions = make(map[uint32]bool)
	}
	probes.actions[ret] = ok
	return ok
}

// flagSupported asks the kernel whether it knows the filter flags in
// bits. seccomp(SECCOMP_SET_MODE_FILTER) checks the flags before it reads
// the program, so a NULL program gets EFAULT when the flags are good and
// EINVAL when they are not; nothing is loaded either way.
func flagSupported(bits uint) bool {
	probes.Lock()
	defer probes.Unlock()
	if ok, done := probes.flags[bits]; done {
		return ok
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP,
		unix.SECCOMP_SET_MODE_FILTER, uintptr(bits), 0)
	ok := errno == unix.EFAULT
	if probes.flags == nil {
		probes.flags = make(map[uint]bool)
	}
	probes.flags[bits] = ok
	return ok
}

// Load installs the filter in the calling thread with seccomp(2), and in
// every thread of the process if it carries SECCOMP_FILTER_FLAG_TSYNC. The
// thread must have no_new_privs set or hold CAP_SYS_ADMIN; the caller must
// hold runtime.LockOSThread so that the filter stays on the thread that
// will execve. It returns the notification listener fd (O_CLOEXEC, owned
// by the caller) when the filter has a SCMP_ACT_NOTIFY rule, else -1.
func (f *Filter) Load() (int, error) {
	if len(f.Program) == 0 || len(f.Program) > maxInsns {
		return -1, fmt.Errorf("load seccomp filter: %d instructions, "+
			"want 1 to %d", len(f.Program), maxInsns)
	}
	prog := unix.SockFprog{
		Len:    uint16(len(f.Program)),
		Filter: &f.Program[0],
	}
	ret, _, errno := unix.Syscall(unix.SYS_SECCOMP,
		unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags),
		uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f.Program)

	switch {
	case errno == unix.EACCES:
		return -1, fmt.Errorf("load seccomp filter: %w",
			ErrNoNewPrivsRequired)
	case errno != 0:
		return -1, fmt.Errorf("load seccomp filter (flags %#x): %w",
			f.Flags, errno)
	}
	if f.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return int(ret), nil
	}
	if ret != 0 {
		// With TSYNC alone, a positive return names the thread that
		// could not be synchronised, and nothing was loaded.
		return -1, fmt.Errorf("load seccomp filter: thread %d cannot "+
			"take it: %w", ret, errors.ErrUnsupported)
	}
	return -1, nil
}
