package seccomp

import (
	"encoding/binary"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// seccompData is struct seccomp_data (include/uapi/linux/seccomp.h).
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d *seccompData) word(off uint32) (uint32, error) {
	var buf [64]byte
	binary.NativeEndian.PutUint32(buf[0:], d.nr)
	binary.NativeEndian.PutUint32(buf[4:], d.arch)
	binary.NativeEndian.PutUint64(buf[8:], d.ip)
	for i, a := range d.args {
		binary.NativeEndian.PutUint64(buf[16+8*i:], a)
	}
	if off%4 != 0 || off+4 > uint32(len(buf)) {
		return 0, fmt.Errorf("load at %d", off)
	}
	return binary.NativeEndian.Uint32(buf[off:]), nil
}

// runBPF interprets a classic BPF program on data as the kernel's
// seccomp would, for the instructions libseccomp and the stub use, and
// returns the SECCOMP_RET_* value.
func runBPF(prog []unix.SockFilter, data seccompData) (uint32, error) {
	ret, _, err := runBPFSteps(prog, data)
	return ret, err
}

// runBPFSteps is runBPF that also counts the instructions run.
func runBPFSteps(prog []unix.SockFilter, data seccompData,
) (ret uint32, steps int, err error) {
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		steps++
		in := prog[pc]
		switch class := in.Code & 0x07; class {
		case unix.BPF_LD, unix.BPF_LDX:
			var v uint32
			switch in.Code & 0xe0 {
			case unix.BPF_ABS:
				w, err := data.word(in.K)
				if err != nil {
					return 0, steps, err
				}
				v = w
			case unix.BPF_IMM:
				v = in.K
			case unix.BPF_MEM:
				v = mem[in.K]
			default:
				return 0, steps, fmt.Errorf("pc %d: load mode %#x", pc, in.Code)
			}
			if class == unix.BPF_LD {
				a = v
			} else {
				x = v
			}
		case unix.BPF_ST:
			mem[in.K] = a
		case unix.BPF_STX:
			mem[in.K] = x
		case unix.BPF_ALU:
			operand := in.K
			if in.Code&unix.BPF_X != 0 {
				operand = x
			}
			switch in.Code & 0xf0 {
			case unix.BPF_AND:
				a &= operand
			case unix.BPF_OR:
				a |= operand
			case unix.BPF_ADD:
				a += operand
			case unix.BPF_SUB:
				a -= operand
			default:
				return 0, steps, fmt.Errorf("pc %d: alu op %#x", pc, in.Code)
			}
		case unix.BPF_JMP:
			if in.Code&0xf0 == unix.BPF_JA {
				pc += int(in.K)
				continue
			}
			operand := in.K
			if in.Code&unix.BPF_X != 0 {
				operand = x
			}
			var cond bool
			switch in.Code & 0xf0 {
			case unix.BPF_JEQ:
				cond = a == operand
			case unix.BPF_JGT:
				cond = a > operand
			case unix.BPF_JGE:
				cond = a >= operand
			case unix.BPF_JSET:
				cond = a&operand != 0
			default:
				return 0, steps, fmt.Errorf("pc %d: jump %#x", pc, in.Code)
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET:
			if in.Code&0x18 == unix.BPF_A {
				return a, steps, nil
			}
			return in.K, steps, nil
		case unix.BPF_MISC:
			if in.Code&0xf8 == unix.BPF_TAX {
				x = a
			} else {
				a = x
			}
		default:
			return 0, steps, fmt.Errorf("pc %d: class %#x", pc, in.Code)
		}
	}
	return 0, steps, fmt.Errorf("fell off the end of the program")
}

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	// libseccomp's default action for an ABI not in the filter.
	retBadArch = unix.SECCOMP_RET_KILL_THREAD
)

func TestENOSYSStubPerABI(t *testing.T) {
	native, err := libseccomp.GetNativeArch()
	if err != nil || native != libseccomp.ArchAMD64 {
		t.Skip("the cases are written for an x86_64 host")
	}
	allow := []specs.LinuxSyscall{{
		Names:  []string{"read", "getppid", "clone3", "socketcall"},
		Action: specs.ActAllow,
	}}
	const x32 = x32SyscallBit
	type call struct {
		arch uint32
		nr   uint32
		want uint32
	}
	tests := []struct {
		name  string
		archs []specs.Arch
		calls []call
	}{{
		name:  "architectures null: the native ABI",
		archs: nil,
		calls: []call{
			{unix.AUDIT_ARCH_X86_64, 0, retAllow},    // read
			{unix.AUDIT_ARCH_X86_64, 435, retAllow},  // clone3
			{unix.AUDIT_ARCH_X86_64, 100, retEPERM},  // a hole
			{unix.AUDIT_ARCH_X86_64, 436, retENOSYS}, // newer
			{unix.AUDIT_ARCH_X86_64, 1 << 20, retENOSYS},
			// ABIs not in the filter are left to libseccomp.
			{unix.AUDIT_ARCH_X86_64, x32 | 0, retBadArch},
			{unix.AUDIT_ARCH_X86_64, x32 | 500, retBadArch},
			{unix.AUDIT_ARCH_I386, 500, retBadArch},
			{unix.AUDIT_ARCH_AARCH64, 500, retBadArch},
		},
	}, {
		name:  "x86_64, x86 and x32, as Docker sends on amd64",
		archs: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		calls: []call{
			{unix.AUDIT_ARCH_X86_64, 0, retAllow},
			{unix.AUDIT_ARCH_X86_64, 436, retENOSYS},
			{unix.AUDIT_ARCH_X86_64, 100, retEPERM},
			{unix.AUDIT_ARCH_X86_64, x32 | 0, retAllow},
			{unix.AUDIT_ARCH_X86_64, x32 | 435, retAllow},
			{unix.AUDIT_ARCH_X86_64, x32 | 436, retENOSYS},
			{unix.AUDIT_ARCH_X86_64, x32 | 100, retEPERM},
			{unix.AUDIT_ARCH_I386, 3, retAllow},   // read
			{unix.AUDIT_ARCH_I386, 102, retAllow}, // socketcall
			{unix.AUDIT_ARCH_I386, 436, retENOSYS},
			{unix.AUDIT_ARCH_I386, 100, retEPERM},
			{unix.AUDIT_ARCH_AARCH64, 500, retBadArch},
		},
	}, {
		name:  "x32 without x86_64 named",
		archs: []specs.Arch{specs.ArchX32},
		calls: []call{
			{unix.AUDIT_ARCH_X86_64, 436, retENOSYS},
			{unix.AUDIT_ARCH_X86_64, x32 | 436, retENOSYS},
			{unix.AUDIT_ARCH_X86_64, x32 | 0, retAllow},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			filter, err := Compile(&specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno,
				Architectures: tt.archs,
				Syscalls:      allow,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.calls {
				got, err := runBPF(filter.Program,
					seccompData{nr: c.nr, arch: c.arch})
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("arch %#x nr %#x: %#x, want %#x",
						c.arch, c.nr, got, c.want)
				}
			}
		})
	}
}

func TestENOSYSStubS390MultiplexNumber(t *testing.T) {
	// s390 gets syscall 0 for numbers too large for the instruction.
	stub, err := enosysStub(map[uint32]abiLimits{
		unix.AUDIT_ARCH_S390X: {libseccomp.ArchS390X: 400},
	})
	if err != nil {
		t.Fatal(err)
	}
	prog := append(stub, unix.SockFilter{
		Code: unix.BPF_RET | unix.BPF_K, K: retAllow,
	})
	for nr, want := range map[uint32]uint32{
		0: retENOSYS, 1: retAllow, 400: retAllow, 401: retENOSYS,
	} {
		got, err := runBPF(prog,
			seccompData{nr: nr, arch: unix.AUDIT_ARCH_S390X})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("s390x nr %d: %#x, want %#x", nr, got, want)
		}
	}
}

func TestENOSYSStubForEveryArchFits(t *testing.T) {
	// Every ABI libseccomp supports at once still assembles with
	// short jumps.
	var abis []archInfo
	for name, info := range archs {
		if archSupported(info.scmp) {
			abis = append(abis, info)
		} else {
			t.Logf("libseccomp %s lacks %s", Version(), name)
		}
	}
	limits := lastKnownSyscalls(abis, []string{"read", "close", "clone3"})
	if len(limits) < 10 {
		t.Fatalf("only %d ABIs have limits: %v", len(limits), limits)
	}
	stub, err := enosysStub(limits)
	if err != nil {
		t.Fatal(err)
	}
	for audit, abi := range limits {
		for scmp, last := range abi {
			nr := last + 1
			got, err := runBPF(stub, seccompData{nr: nr, arch: audit})
			if err != nil {
				t.Fatal(err)
			}
			if got != retENOSYS {
				t.Errorf("%s nr %#x: %#x, want ENOSYS", scmp, nr, got)
			}
		}
	}
}

func TestNoENOSYSStubWhenItChangesNothing(t *testing.T) {
	native, err := nativeArch()
	if err != nil {
		t.Fatal(err)
	}
	rules := []specs.LinuxSyscall{{Names: []string{"read"},
		Action: specs.ActKillProcess}}
	tests := []struct {
		cfg  *specs.LinuxSeccomp
		want uint32
	}{
		{&specs.LinuxSeccomp{DefaultAction: specs.ActAllow},
			retAllow},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActLog},
			unix.SECCOMP_RET_LOG},
		{&specs.LinuxSeccomp{DefaultAction: specs.ActTrace},
			unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
	}
	for _, tt := range tests {
		tt.cfg.Syscalls = rules
		filter, err := Compile(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := runBPF(filter.Program,
			seccompData{nr: 1 << 20, arch: native.audit})
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("default %s: a new syscall gets %#x, want %#x",
				tt.cfg.DefaultAction, got, tt.want)
		}
	}

	enosys := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		DefaultErrnoRet: errnoRet(unix.ENOSYS), Syscalls: rules}
	if needsStub(enosys) {
		t.Errorf("a profile whose default is ENOSYS gets the stub")
	}
}

// namesBelow returns every syscall libseccomp knows on this machine with
// a number below limit, except those in except.
func namesBelow(t testing.TB, limit uintptr, except ...string) []string {
	t.Helper()
	var names []string
	for nr := range limit {
		name, err := libseccomp.ScmpSyscall(nr).GetName()
		if err == nil && !slices.Contains(except, name) {
			names = append(names, name)
		}
	}
	return names
}

func TestNewSyscallGetsENOSYSNotDefaultErrno(t *testing.T) {
	// The profile knows nothing at or past pidfd_send_signal; getpgid
	// is below and left out, so it gets the default EPERM.
	newer := sysno(t, "pidfd_send_signal")
	getpgid := sysno(t, "getpgid")
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{
			Names:  namesBelow(t, newer, "getpgid"),
			Action: specs.ActAllow,
		}},
	}
	invalidFd := ^uintptr(0)
	got := runChild(t, childPlan{
		NoNewPrivs: true,
		Profile:    profile,
		Calls: []rawCall{
			{Nr: newer, Args: [6]uintptr{invalidFd}},
			{Nr: sysno(t, "clone3")},
			{Nr: getpgid},
			{Nr: sysno(t, "getppid")},
		},
	}).mustReport(t).Results
	want := []unix.Errno{unix.ENOSYS, unix.ENOSYS, unix.EPERM, 0}
	for i, w := range want {
		if got[i].Errno != w {
			t.Errorf("call %d: errno %v, want %v", i, got[i].Errno, w)
		}
	}
}

// dockerStyleProfile denies by default with EPERM and allows the rest of
// what libseccomp knows but for the usual dangerous calls, with clone3
// answered ENOSYS so that libc falls back to clone.
func dockerStyleProfile(t testing.TB, archs []specs.Arch) *specs.LinuxSeccomp {
	denied := []string{
		"acct", "add_key", "bpf", "clone3", "delete_module",
		"finit_module", "init_module", "kexec_file_load", "kexec_load",
		"keyctl", "mount", "move_mount", "name_to_handle_at",
		"open_by_handle_at", "open_tree", "perf_event_open", "pivot_root",
		"ptrace", "reboot", "request_key", "setns", "swapoff", "swapon",
		"umount2", "unshare", "fsopen", "fsmount", "fsconfig", "fspick",
	}
	allowed := namesBelow(t, 1024, denied...)
	// A name this libseccomp cannot know is skipped, not an error.
	allowed = append(allowed, "a_syscall_of_the_future")
	return &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: errnoRet(unix.EPERM),
		Architectures:   archs,
		Syscalls: []specs.LinuxSyscall{
			{Names: allowed, Action: specs.ActAllow},
			{Names: []string{"clone3"}, Action: specs.ActErrno,
				ErrnoRet: errnoRet(unix.ENOSYS)},
		},
	}
}

func TestDockerStyleProfileRunsBusybox(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox to run:", err)
	}
	for _, tt := range []struct {
		name  string
		archs []specs.Arch
	}{
		{"architectures null", nil},
		{"architectures x86", []specs.Arch{specs.ArchX86_64,
			specs.ArchX86, specs.ArchX32}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			profile := dockerStyleProfile(t, tt.archs)
			if n := len(profile.Syscalls[0].Names); n < 300 {
				t.Fatalf("only %d allowed syscalls", n)
			}
			dir := t.TempDir()
			script := fmt.Sprintf("echo hello; mkdir %[1]s/made && "+
				"ls %[1]s; mount -t tmpfs tmpfs %[1]s/made; "+
				"echo mount=$?", dir)
			c := runChild(t, childPlan{
				NoNewPrivs: true,
				Profile:    profile,
				Exec:       []string{busybox, "sh", "-c", script},
			})
			if c.state.ExitCode() != 0 {
				t.Fatalf("busybox: %v, stderr: %s", c.state, c.stderr)
			}
			want := "hello\nmade\nmount=1\n"
			if c.stdout != want {
				t.Errorf("busybox said %q, want %q", c.stdout, want)
			}
			// busybox words EPERM from mount(2) this way.
			if !strings.Contains(c.stderr, "permission denied") {
				t.Errorf("mount: %q, want EPERM", c.stderr)
			}
		})
	}
}

func TestDockerStyleProfileErrnos(t *testing.T) {
	profile := dockerStyleProfile(t, nil)
	got := runChild(t, childPlan{
		NoNewPrivs: true,
		Profile:    profile,
		Calls: []rawCall{
			{Nr: sysno(t, "unshare")}, // denied
			{Nr: sysno(t, "clone3")},  // ENOSYS by rule
			{Nr: 1000},                // beyond every table
			{Nr: sysno(t, "getppid")},
		},
	}).mustReport(t).Results
	want := []unix.Errno{unix.EPERM, unix.ENOSYS, unix.ENOSYS, 0}
	for i, w := range want {
		if got[i].Errno != w {
			t.Errorf("call %d: errno %v, want %v", i, got[i].Errno, w)
		}
	}
}

func TestLargeProfileIsABinaryTree(t *testing.T) {
	// A linear filter tests each syscall in turn; the tree reaches the
	// last one in a few jumps. Count the instructions run for the
	// syscall with the highest number.
	profile := dockerStyleProfile(t, nil)
	filter, err := Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	nr := uint32(sysno(t, "futex_requeue"))
	_, steps, err := runBPFSteps(filter.Program,
		seccompData{nr: nr, arch: unix.AUDIT_ARCH_X86_64})
	if err != nil {
		t.Fatal(err)
	}
	if steps > 40 {
		t.Errorf("%d instructions run for syscall %d, want a tree's "+
			"few dozen at most", steps, nr)
	}
	if len(filter.Skipped) != 1 ||
		filter.Skipped[0] != "a_syscall_of_the_future" {
		t.Errorf("skipped %v, want the unknown name", filter.Skipped)
	}
}

func BenchmarkCompileDockerStyleProfile(b *testing.B) {
	profile := dockerStyleProfile(b, []specs.Arch{specs.ArchX86_64,
		specs.ArchX86, specs.ArchX32})
	for b.Loop() {
		if _, err := Compile(profile); err != nil {
			b.Fatal(err)
		}
	}
}
