// Package capabilities turns the OCI capability sets of a process into
// the kernel's bounding, effective, permitted, inheritable and ambient
// sets, and applies them to the calling thread. See capabilities(7).
//
// It is used by init after the user switch; it does not read or change
// securebits.
package capabilities

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// names maps the capabilities of Linux 6.x to their numbers
// (include/uapi/linux/capability.h).
var names = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2,
	"CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6,
	"CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14,
	"CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
	"CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20,
	"CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
	"CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28,
	"CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34,
	"CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
	"CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

var lastCap = func() uint {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 40
	}
	return uint(n)
}()

// Known lists every capability name this package knows, for `features`.
func Known() []string {
	out := make([]string, len(names))
	for name, n := range names {
		out[n] = name
	}
	return out
}

// Set is a capability bit mask, bit n for capability n.
type Set uint64

// Parse turns names into a Set. Names unknown to towel are an error;
// names the running kernel lacks are returned in unsupported, for the
// caller to warn about (runc 1.2 ignores them with a warning).
func Parse(list []string) (set Set, unsupported []string, err error) {
	for _, name := range list {
		n, ok := names[strings.ToUpper(name)]
		if !ok {
			return 0, nil, fmt.Errorf("unknown capability %q", name)
		}
		if n > lastCap {
			unsupported = append(unsupported, name)
			continue
		}
		set |= 1 << n
	}
	return set, unsupported, nil
}

// Sets are the five sets of a process.
type Sets struct {
	Bounding, Effective, Permitted, Inheritable, Ambient Set
}

// FromSpec parses every set of c (nil means all empty).
func FromSpec(c *specs.LinuxCapabilities) (*Sets, error) {
	var s Sets
	if c == nil {
		return &s, nil
	}
	for _, p := range []struct {
		dst  *Set
		list []string
	}{
		{&s.Bounding, c.Bounding}, {&s.Effective, c.Effective},
		{&s.Permitted, c.Permitted}, {&s.Inheritable, c.Inheritable},
		{&s.Ambient, c.Ambient},
	} {
		set, _, err := Parse(p.list)
		if err != nil {
			return nil, err
		}
		*p.dst = set
	}
	return &s, nil
}

// DropBounding removes from the bounding set every capability not in
// keep. It needs CAP_SETPCAP, so it runs before the user switch.
func DropBounding(keep Set) error {
	for n := uint(0); n <= lastCap; n++ {
		if keep&(1<<n) != 0 {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0)
		if err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d from bounding set: %w",
				n, err)
		}
	}
	return nil
}

// Apply sets the effective, permitted and inheritable sets of the calling
// thread, then raises the ambient ones (capabilities(7): an ambient
// capability must be permitted and inheritable).
func Apply(s *Sets) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		shift := 32 * uint(i)
		data[i].Effective = uint32(s.Effective >> shift)
		data[i].Permitted = uint32(s.Permitted >> shift)
		data[i].Inheritable = uint32(s.Inheritable >> shift)
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}

	err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL,
		0, 0, 0)
	if err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for n := uint(0); n <= lastCap; n++ {
		if s.Ambient&(1<<n) == 0 {
			continue
		}
		err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE,
			uintptr(n), 0, 0)
		if err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", n, err)
		}
	}
	return nil
}
