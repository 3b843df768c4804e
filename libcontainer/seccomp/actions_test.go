package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// oneRule is a profile that allows everything but names.
func oneRule(action specs.LinuxSeccompAction, errno *uint, names ...string,
) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: names, Action: action, ErrnoRet: errno},
		},
	}
}

func TestErrnoActionReturnsErrnoRet(t *testing.T) {
	tests := []struct {
		name     string
		errnoRet *uint
		want     unix.Errno
	}{
		{"EPERM when errnoRet is unset", nil, unix.EPERM},
		{"errnoRet", errnoRet(unix.EXDEV), unix.EXDEV},
		{"errnoRet 0 makes the call succeed", errnoRet(0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := runChild(t, childPlan{
				NoNewPrivs: true,
				Profile:    oneRule(specs.ActErrno, tt.errnoRet, "getppid"),
				Calls:      []rawCall{{Nr: sysno(t, "getppid")}},
			})
			got := c.mustReport(t).Results[0]
			if got.Errno != tt.want {
				t.Errorf("getppid: errno %v, want %v", got.Errno, tt.want)
			}
			if tt.want == 0 && got.Ret != 0 {
				t.Errorf("getppid: returned %d, want 0 from the filter",
					got.Ret)
			}
		})
	}
}

func TestKillActionsKillWithSIGSYS(t *testing.T) {
	// mkdir(1) is single-threaded, so killing the thread that makes
	// the call kills the process, as in a container.
	mkdir, err := exec.LookPath("mkdir")
	if err != nil {
		t.Skip("no mkdir(1) to run:", err)
	}
	for _, action := range []specs.LinuxSeccompAction{
		specs.ActKill, specs.ActKillThread, specs.ActKillProcess,
	} {
		t.Run(string(action), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "made")
			c := runChild(t, childPlan{
				NoNewPrivs: true,
				Profile:    oneRule(action, nil, "mkdir", "mkdirat"),
				Exec:       []string{mkdir, dir},
			})
			if sig := c.signal(); sig != unix.SIGSYS {
				t.Errorf("mkdir: %v, want killed by SIGSYS; stderr: %s",
					c.state, c.stderr)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s was made", dir)
			}
		})
	}
}

func TestKillProcessKillsEveryThread(t *testing.T) {
	// A Go child has many threads; KILL_PROCESS takes them all.
	c := runChild(t, childPlan{
		NoNewPrivs: true,
		Profile:    oneRule(specs.ActKillProcess, nil, "getppid"),
		Calls:      []rawCall{{Nr: sysno(t, "getppid")}},
	})
	if sig := c.signal(); sig != unix.SIGSYS {
		t.Errorf("child: %v, want killed by SIGSYS", c.state)
	}
}

func TestTrapDeliversSIGSYS(t *testing.T) {
	// Unlike a kill, the signal reaches the process's handler: the Go
	// runtime's reports the seccomp si_code (SYS_SECCOMP, 1).
	c := runChild(t, childPlan{
		NoNewPrivs: true,
		Profile:    oneRule(specs.ActTrap, nil, "getppid"),
		Calls:      []rawCall{{Nr: sysno(t, "getppid")}},
	})
	if c.signal() != 0 || !strings.Contains(c.stderr, "SIGSYS") ||
		!strings.Contains(c.stderr, "sigcode=1") {
		t.Errorf("child: %v, want the Go runtime to report SIGSYS with "+
			"sigcode=1; stderr: %.200s", c.state, c.stderr)
	}
}

func TestTraceWithoutTracerReturnsENOSYS(t *testing.T) {
	// seccomp(2): with no tracer, SECCOMP_RET_TRACE fails the call
	// with ENOSYS.
	c := runChild(t, childPlan{
		NoNewPrivs: true,
		Profile:    oneRule(specs.ActTrace, errnoRet(7), "getppid"),
		Calls:      []rawCall{{Nr: sysno(t, "getppid")}},
	})
	if got := c.mustReport(t).Results[0]; got.Errno != unix.ENOSYS {
		t.Errorf("getppid: errno %v, want ENOSYS", got.Errno)
	}
}

func TestLogActionRunsTheCallAndLogsIt(t *testing.T) {
	audit := openAudit(t)
	getppid := sysno(t, "getppid")
	c := runChild(t, childPlan{
		NoNewPrivs: true,
		Profile:    oneRule(specs.ActLog, nil, "getppid"),
		Calls:      []rawCall{{Nr: getppid}},
	})
	got := c.mustReport(t).Results[0]
	if got.Errno != 0 || int(got.Ret) != os.Getpid() {
		t.Errorf("getppid: %d, %v, want %d", got.Ret, got.Errno, os.Getpid())
	}
	audit.waitRecord(t, c.state.Pid(), getppid, unix.SECCOMP_RET_LOG)
}

func TestArgumentOperators(t *testing.T) {
	const hit = unix.EBADFD
	arg := func(index uint, op specs.LinuxSeccompOperator, v, v2 uint64,
	) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: index, Op: op, Value: v,
			ValueTwo: v2}
	}
	// getpriority(2) fails with EINVAL for a "which" above 2 and
	// otherwise has no effect, so any argument is safe to pass.
	tests := []struct {
		name  string
		args  []specs.LinuxSeccompArg
		match [][2]uintptr
		miss  [][2]uintptr
	}{{
		name:  "EQ",
		args:  []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 5, 0)},
		match: [][2]uintptr{{5, 0}},
		miss:  [][2]uintptr{{4, 0}, {6, 0}},
	}, {
		name:  "EQ compares all 64 bits",
		args:  []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 1<<32|5, 0)},
		match: [][2]uintptr{{1<<32 | 5, 0}},
		miss:  [][2]uintptr{{5, 0}},
	}, {
		name:  "NE",
		args:  []specs.LinuxSeccompArg{arg(0, specs.OpNotEqual, 5, 0)},
		match: [][2]uintptr{{4, 0}, {6, 0}},
		miss:  [][2]uintptr{{5, 0}},
	}, {
		name:  "LT",
		args:  []specs.LinuxSeccompArg{arg(0, specs.OpLessThan, 5, 0)},
		match: [][2]uintptr{{4, 0}},
		miss:  [][2]uintptr{{5, 0}, {6, 0}},
	}, {
		name:  "LE",
		args:  []specs.LinuxSeccompArg{arg(0, specs.OpLessEqual, 5, 0)},
		match: [][2]uintptr{{4, 0}, {5, 0}},
		miss:  [][2]uintptr{{6, 0}},
	}, {
		name:  "GT",
		args:  []specs.LinuxSeccompArg{arg(0, specs.OpGreaterThan, 5, 0)},
		match: [][2]uintptr{{6, 0}},
		miss:  [][2]uintptr{{4, 0}, {5, 0}},
	}, {
		name:  "GE",
		args:  []specs.LinuxSeccompArg{arg(0, specs.OpGreaterEqual, 5, 0)},
		match: [][2]uintptr{{5, 0}, {6, 0}},
		miss:  [][2]uintptr{{4, 0}},
	}, {
		name: "MASKED_EQ: value is the mask, valueTwo the result",
		args: []specs.LinuxSeccompArg{
			arg(0, specs.OpMaskedEqual, 0xf0, 0x30),
		},
		match: [][2]uintptr{{0x30, 0}, {0x3a, 0}},
		miss:  [][2]uintptr{{0x4a, 0}, {0x03, 0}},
	}, {
		name: "conditions on two arguments must all hold",
		args: []specs.LinuxSeccompArg{
			arg(0, specs.OpEqualTo, 5, 0),
			arg(1, specs.OpEqualTo, 7, 0),
		},
		match: [][2]uintptr{{5, 7}},
		miss:  [][2]uintptr{{5, 8}, {4, 7}},
	}, {
		name: "conditions on one argument match when either holds",
		args: []specs.LinuxSeccompArg{
			arg(0, specs.OpEqualTo, 5, 0),
			arg(0, specs.OpEqualTo, 7, 0),
		},
		match: [][2]uintptr{{5, 0}, {7, 0}},
		miss:  [][2]uintptr{{6, 0}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			profile := oneRule(specs.ActErrno, errnoRet(hit), "getpriority")
			profile.Syscalls[0].Args = tt.args
			nr := sysno(t, "getpriority")
			var calls []rawCall
			for _, a := range append(tt.match, tt.miss...) {
				calls = append(calls, rawCall{Nr: nr,
					Args: [6]uintptr{a[0], a[1]}})
			}
			results := runChild(t, childPlan{
				NoNewPrivs: true, Profile: profile, Calls: calls,
			}).mustReport(t).Results
			for i, a := range append(tt.match, tt.miss...) {
				want := unix.EINVAL // from the kernel, not the filter
				if i < len(tt.match) {
					want = hit
				}
				if got := results[i].Errno; got != want {
					t.Errorf("getpriority(%#x, %#x): errno %v, want %v",
						a[0], a[1], got, want)
				}
			}
		})
	}
}

func TestLoadNeedsNoNewPrivsOrCapSysAdmin(t *testing.T) {
	profile := oneRule(specs.ActErrno, nil, "getppid")
	c := runChild(t, childPlan{DropSysAdmin: true, Profile: profile})
	if c.state.ExitCode() != 0 ||
		!strings.Contains(c.result.LoadErr, "no_new_privs") {
		t.Errorf("load without no_new_privs or CAP_SYS_ADMIN: %q, %v; "+
			"want an error naming no_new_privs", c.result.LoadErr, c.state)
	}

	// With CAP_SYS_ADMIN the filter loads without no_new_privs.
	c = runChild(t, childPlan{Profile: profile,
		Calls: []rawCall{{Nr: sysno(t, "getppid")}}})
	if got := c.mustReport(t); got.Results[0].Errno != unix.EPERM ||
		got.Filters != "1" {
		t.Errorf("load with CAP_SYS_ADMIN: %+v, want EPERM and 1 filter",
			got)
	}
}

// auditReader receives the kernel's audit records as they are made,
// from the read-only multicast group of the audit netlink socket (Linux
// 3.16, CAP_AUDIT_READ). Unlike the kernel log, it is not rate limited.
type auditReader struct {
	fd int
}

// openAudit joins the audit multicast group, or skips the test.
func openAudit(t *testing.T) *auditReader {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK,
		unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK,
		unix.NETLINK_AUDIT)
	if err != nil {
		t.Skip("no audit netlink socket:", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	// AUDIT_NLGRP_READLOG is group 1.
	addr := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}
	if err := unix.Bind(fd, addr); err != nil {
		t.Skip("cannot read audit records:", err)
	}
	return &auditReader{fd: fd}
}

// records returns the seccomp audit records of pid that come before the
// deadline, stopping at the first whose action code is last. The kernel
// sends them from its audit thread, a little after the call.
func (r *auditReader) records(t *testing.T, pid int, last uint32,
) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	mark := fmt.Sprintf(" pid=%d ", pid)
	lastCode := fmt.Sprintf(" code=%#x", last)
	buf := make([]byte, 1<<16)
	var records []string
	for {
		n, _, err := unix.Recvfrom(r.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			wait := time.Until(deadline)
			if wait <= 0 {
				return records
			}
			fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}}
			_, _ = unix.Poll(fds, int(wait.Milliseconds())+1)
			continue
		}
		if err != nil {
			t.Fatalf("read audit records: %v", err)
		}
		// One record a datagram: struct nlmsghdr, then the text. The
		// header's length is not to be trusted for audit (it may leave
		// out the header), so the datagram's is used.
		const headerLen = unix.SizeofNlMsghdr
		if n < headerLen {
			continue
		}
		kind := binary.NativeEndian.Uint16(buf[4:6])
		line := strings.TrimRight(string(buf[headerLen:n]), "\x00")
		if kind != unix.AUDIT_SECCOMP || !strings.Contains(line, mark) {
			continue
		}
		records = append(records, line)
		if strings.Contains(line, lastCode) {
			return records
		}
	}
}

// waitRecord fails the test unless pid's call nr is recorded with the
// action code, and returns pid's records up to that one.
func (r *auditReader) waitRecord(t *testing.T, pid int, nr uintptr,
	code uint32,
) []string {
	t.Helper()
	records := r.records(t, pid, code)
	want := fmt.Sprintf(" syscall=%d ", nr)
	for _, rec := range records {
		if strings.Contains(rec, want) &&
			strings.Contains(rec, fmt.Sprintf(" code=%#x", code)) {
			return records
		}
	}
	t.Fatalf("no audit record of syscall %d with code %#x for pid %d; "+
		"got %q", nr, code, pid, records)
	return nil
}
