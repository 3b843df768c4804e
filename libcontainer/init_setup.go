package libcontainer

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/procfs"
)

// joinSessionKeyring gives the container a new session keyring named
// after it, so it cannot see the caller's keys (keyrings(7)).
func joinSessionKeyring(id string) error {
	_, err := unix.KeyctlJoinSessionKeyring("_ses." + id)
	if err != nil && err != unix.ENOSYS && err != unix.EACCES {
		return fmt.Errorf("join session keyring: %w", err)
	}
	return nil
}

// writeSysctls writes linux.sysctl under the container's /proc/sys. Keys
// are dotted ("net.ipv4.ip_forward") or slashed; each is written through
// a procfs checked to be one, never across a mount (package procfs).
func writeSysctls(sysctl map[string]string) error {
	if len(sysctl) == 0 {
		return nil
	}
	proc, err := procfs.Open("/proc")
	if err != nil {
		return fmt.Errorf("write sysctls: %w", err)
	}
	defer proc.Close()
	for key, value := range sysctl {
		if err := proc.WriteSysctl(key, value); err != nil {
			return err
		}
	}
	return nil
}

var personalities = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux:   0x0000,
	specs.PerLinux32: 0x0008,
}

func setPersonality(p *specs.LinuxPersonality) error {
	dom, ok := personalities[p.Domain]
	if !ok {
		return fmt.Errorf("personality domain %q is not supported", p.Domain)
	}
	_, _, errno := unix.Syscall(unix.SYS_PERSONALITY, dom, 0, 0)
	if errno != 0 {
		return fmt.Errorf("personality: %w", errno)
	}
	return nil
}

var rlimits = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_STACK": unix.RLIMIT_STACK,
	"RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_AS": unix.RLIMIT_AS,
	"RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": 11,
	"RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14,
	"RLIMIT_RTTIME": 15,
}

// RlimitType maps an OCI rlimit name to its resource number.
func RlimitType(name string) (int, bool) {
	r, ok := rlimits[name]
	return r, ok
}

func setRlimit(rl specs.POSIXRlimit) error {
	res, ok := rlimits[rl.Type]
	if !ok {
		return fmt.Errorf("unknown rlimit type %q", rl.Type)
	}
	lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
	if err := unix.Prlimit(0, res, &lim, nil); err != nil {
		return fmt.Errorf("error setting rlimit type %s: %w", rl.Type, err)
	}
	return nil
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]int{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2,
	specs.SchedBatch: 3, specs.SchedISO: 4, specs.SchedIdle: 5,
	specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02,
	specs.SchedFlagDLOverrun: 0x04, specs.SchedFlagKeepPolicy: 0x08,
	specs.SchedFlagKeepParams: 0x10, specs.SchedFlagUtilClampMin: 0x20,
	specs.SchedFlagUtilClampMax: 0x40,
}

// setScheduler applies process.scheduler with sched_setattr(2).
func setScheduler(s *specs.Scheduler) error {
	policy, ok := schedPolicies[s.Policy]
	if !ok {
		return fmt.Errorf("unknown scheduler policy %q", s.Policy)
	}
	attr := unix.SchedAttr{
		Size:     unix.SizeofSchedAttr,
		Policy:   uint32(policy),
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		v, ok := schedFlags[f]
		if !ok {
			return fmt.Errorf("unknown scheduler flag %q", f)
		}
		attr.Flags |= v
	}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("sched_setattr: %w", err)
	}
	return nil
}

var ioprioClasses = map[specs.IOPriorityClass]uintptr{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

// setIOPriority applies process.ioPriority with ioprio_set(2).
func setIOPriority(p *specs.LinuxIOPriority) error {
	class, ok := ioprioClasses[p.Class]
	if !ok {
		return fmt.Errorf("unknown io priority class %q", p.Class)
	}
	const ioprioWhoProcess = 1
	prio := class<<13 | uintptr(p.Priority)
	_, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0,
		prio)
	if errno != 0 {
		return fmt.Errorf("ioprio_set: %w", errno)
	}
	return nil
}

// loopbackUp brings up "lo" of a new network namespace, as runc does: a
// new namespace starts with it down.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: set flags: %w", err)
	}
	return nil
}
