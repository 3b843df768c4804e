package seccomp

import (
	"fmt"
	"maps"
	"slices"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The ENOSYS stub.
//
// A profile lists the syscalls its author knew. A syscall added to the
// kernel later gets the profile's default action, typically EPERM, and a
// libc that tries the new call first (glibc: clone3 before clone,
// faccessat2 before faccessat) gives up instead of falling back, since
// only ENOSYS means "this kernel lacks it". So before the libseccomp
// program we put a short one of our own: for each ABI in the filter, a
// syscall number above the largest the profile names returns ENOSYS;
// everything else goes on to libseccomp's program, untouched. Syscalls in
// holes below that number still get the default action.
//
// Layout, with A the accumulator and seccomp_data as in seccomp(2):
//
//	    ld  [4]                  A = arch
//	    jeq #AUDIT_ARCH_1, abi1  one test per ABI
//	    ...
//	    ja  filter               an ABI we know nothing of
//	abi1:
//	    ld  [0]                  A = nr
//	    jgt #max1, enosys, filter
//	...
//	enosys:
//	    ret #SECCOMP_RET_ERRNO|ENOSYS
//	filter:
//	    libseccomp's program, which loads what it needs itself
//
// x86_64 and x32 share AUDIT_ARCH_X86_64; an x32 syscall number has bit 30
// set (__X32_SYSCALL_BIT), so that section first tests the bit and sends
// an ABI that is not in the filter on to libseccomp, which rejects it. On
// s390 and s390x, number 0 is how the kernel passes on a syscall number
// too large for the instruction, so 0 is answered with ENOSYS there too.
//
// Jumps in classic BPF only go forward, by at most 255 instructions for a
// conditional one; the stub stays far below that (one test and at most
// five instructions for each of the few ABIs libseccomp has).

const (
	// seccomp_data offsets (include/uapi/linux/seccomp.h).
	offsetNr   = 0
	offsetArch = 4

	x32SyscallBit = 0x40000000

	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// abiLimits holds, for one AUDIT_ARCH_* value, the largest syscall number
// the profile names in each libseccomp ABI sharing it.
type abiLimits map[libseccomp.ScmpArch]uint32

// lastKnownSyscalls finds, for every ABI in abis, the largest syscall
// number among names, keyed by AUDIT_ARCH_*. An ABI none of the names
// resolve in is left out: its stub would turn every syscall into ENOSYS.
func lastKnownSyscalls(abis []archInfo, names []string) map[uint32]abiLimits {
	limits := make(map[uint32]abiLimits)
	for _, abi := range abis {
		var last uint32
		for _, name := range names {
			nr, err := libseccomp.GetSyscallFromNameByArch(name,
				abi.scmp)
			// A negative number is libseccomp's stand-in for a
			// syscall the ABI does not have.
			if err != nil || nr < 0 {
				continue
			}
			last = max(last, uint32(nr))
		}
		if last == 0 {
			continue
		}
		if limits[abi.audit] == nil {
			limits[abi.audit] = make(abiLimits)
		}
		limits[abi.audit][abi.scmp] = last
	}
	return limits
}

// enosysStub assembles the stub described above for limits.
func enosysStub(limits map[uint32]abiLimits) ([]unix.SockFilter, error) {
	var a assembler
	enosys, filter := a.newLabel(), a.newLabel()

	audits := slices.Sorted(maps.Keys(limits))
	sections := make([]label, len(audits))
	a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offsetArch)
	for i, audit := range audits {
		sections[i] = a.newLabel()
		a.jump(unix.BPF_JEQ, audit, sections[i], next)
	}
	a.jumpAlways(filter)

	for i, audit := range audits {
		a.mark(sections[i])
		a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offsetNr)
		abis := limits[audit]
		switch audit {
		case unix.AUDIT_ARCH_S390, unix.AUDIT_ARCH_S390X:
			a.jump(unix.BPF_JEQ, 0, enosys, next)
		case unix.AUDIT_ARCH_X86_64:
			amd64Last, amd64 := abis[libseccomp.ArchAMD64]
			x32Last, x32 := abis[libseccomp.ArchX32]
			const bit = x32SyscallBit
			switch {
			case amd64 && x32:
				x32Section := a.newLabel()
				a.jump(unix.BPF_JSET, bit, x32Section, next)
				a.jump(unix.BPF_JGT, amd64Last, enosys, filter)
				a.mark(x32Section)
				a.jump(unix.BPF_JGT, x32Last, enosys, filter)
			case amd64:
				a.jump(unix.BPF_JSET, bit, filter, next)
				a.jump(unix.BPF_JGT, amd64Last, enosys, filter)
			case x32:
				a.jump(unix.BPF_JSET, bit, next, filter)
				a.jump(unix.BPF_JGT, x32Last, enosys, filter)
			}
			continue
		}
		if len(abis) != 1 {
			return nil, fmt.Errorf("enosys stub: %d ABIs share "+
				"AUDIT_ARCH %#x", len(abis), audit)
		}
		for _, last := range abis {
			a.jump(unix.BPF_JGT, last, enosys, filter)
		}
	}

	a.mark(enosys)
	a.stmt(unix.BPF_RET|unix.BPF_K, retENOSYS)
	a.mark(filter)
	return a.assemble()
}

// label names an instruction of a program being assembled; next is the
// one right after the jump.
type label int

const next label = -1

// fixup records that the jump at pc goes to the labels jt and jf (or, for
// an unconditional jump, to jt).
type fixup struct {
	pc     int
	jt, jf label
}

// assembler builds a classic BPF program whose forward jumps name labels,
// and turns them into offsets at the end.
type assembler struct {
	prog   []unix.SockFilter
	at     []int // instruction index of each label, -1 until marked
	fixups []fixup
}

func (a *assembler) newLabel() label {
	a.at = append(a.at, -1)
	return label(len(a.at) - 1)
}

// mark places l at the next instruction.
func (a *assembler) mark(l label) {
	a.at[l] = len(a.prog)
}

// stmt adds an instruction that does not jump.
func (a *assembler) stmt(code uint16, k uint32) {
	a.prog = append(a.prog, unix.SockFilter{Code: code, K: k})
}

// jump adds "if A <cond> k goto jt else goto jf" (cond is BPF_JEQ, BPF_JGT,
// BPF_JGE or BPF_JSET).
func (a *assembler) jump(cond uint16, k uint32, jt, jf label) {
	a.fixups = append(a.fixups, fixup{pc: len(a.prog), jt: jt, jf: jf})
	a.stmt(unix.BPF_JMP|cond|unix.BPF_K, k)
}

// jumpAlways adds "goto to".
func (a *assembler) jumpAlways(to label) {
	a.fixups = append(a.fixups, fixup{pc: len(a.prog), jt: to, jf: next})
	a.stmt(unix.BPF_JMP|unix.BPF_JA, 0)
}

// offset is the distance of l from the instruction after pc.
func (a *assembler) offset(pc int, l label) (int, error) {
	if l == next {
		return 0, nil
	}
	target := a.at[l]
	if target <= pc {
		return 0, fmt.Errorf("bpf: jump at %d to unplaced or earlier "+
			"label %d", pc, l)
	}
	return target - pc - 1, nil
}

// assemble resolves every jump and returns the program.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	for _, f := range a.fixups {
		insn := &a.prog[f.pc]
		jt, err := a.offset(f.pc, f.jt)
		if err != nil {
			return nil, err
		}
		if insn.Code == unix.BPF_JMP|unix.BPF_JA {
			insn.K = uint32(jt)
			continue
		}
		jf, err := a.offset(f.pc, f.jf)
		if err != nil {
			return nil, err
		}
		if jt > 255 || jf > 255 {
			return nil, fmt.Errorf("bpf: conditional jump at %d "+
				"spans more than 255 instructions", f.pc)
		}
		insn.Jt, insn.Jf = uint8(jt), uint8(jf)
	}
	return a.prog, nil
}
