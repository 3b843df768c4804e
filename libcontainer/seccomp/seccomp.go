// Package seccomp turns a runtime-spec linux.seccomp profile into a
// seccomp-bpf filter and loads it, the last thing init does before
// execve(2), so that the runtime's own setup is not filtered.
//
// libseccomp builds the filter; the package exports it as classic BPF,
// puts a stub of its own in front that answers ENOSYS for syscalls newer
// than the profile (see enosys.go), and loads the result with seccomp(2)
// itself, which lets it choose the filter flags. When no flags are given
// it sets SECCOMP_FILTER_FLAG_SPEC_ALLOW, as runc 1.2 does.
//
// For SCMP_ACT_NOTIFY, Load hands back the listener fd and SendNotifyFd
// passes it, with the container state, to the agent at listenerPath.
//
// The package does not decide policy (there is no built-in default
// profile) and logs nothing: what it skips, it returns.
//
// BUG(towel): a syscall newer than the linked libseccomp cannot be named
// in a profile (Debian's libseccomp 2.5.4 knows none past Linux 6.7's
// futex_requeue); it is skipped like an unknown name, and the ENOSYS stub
// answers it when its number is above every name the profile resolves.
//
// BUG(towel): two conditions on the same argument in one rule match when
// either holds, not both, as in runc: libseccomp takes one comparison per
// argument in a rule, so each becomes a rule of its own.
package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Filter is a profile compiled for this machine: the program and the
// flags to give seccomp(2). It can be built in one process and loaded in
// another on the same machine.
type Filter struct {
	// Program is the classic BPF program, ENOSYS stub included.
	Program []unix.SockFilter
	// Flags are the SECCOMP_FILTER_FLAG_* bits to load it with.
	Flags uint
	// Skipped lists the syscall names of the profile that libseccomp
	// does not know (see UnknownSyscalls); they are left out.
	Skipped []string
}

// optimizeAbove is the number of rules above which the filter is built as
// a binary tree (libseccomp's optimize level 2), which turns a search
// through a few hundred syscalls into a handful of comparisons. A tree
// only pays off for many rules; small filters keep the layout libseccomp
// generates by default.
const optimizeAbove = 32

// InitSeccomp compiles cfg and loads it in the calling thread; see
// Compile and Filter.Load. Call it last before execve, with
// runtime.LockOSThread held and no_new_privs set (or CAP_SYS_ADMIN). It
// returns the listener fd when the profile uses SCMP_ACT_NOTIFY, else -1.
// A nil cfg loads nothing.
func InitSeccomp(cfg *specs.LinuxSeccomp) (notifyFd int, err error) {
	if cfg == nil {
		return -1, nil
	}
	filter, err := Compile(cfg)
	if err != nil {
		return -1, err
	}
	return filter.Load()
}

// Compile validates cfg and builds its filter without loading it.
func Compile(cfg *specs.LinuxSeccomp) (*Filter, error) {
	if cfg == nil {
		return nil, errors.New("compile seccomp profile: no profile")
	}
	if err := Validate(cfg); err != nil {
		return nil, err
	}

	defaultAction := scmpAction(cfg.DefaultAction, cfg.DefaultErrnoRet)
	scmpFilter, err := libseccomp.NewFilter(defaultAction)
	if err != nil {
		return nil, fmt.Errorf("seccomp: new filter: %w", err)
	}
	defer scmpFilter.Release()

	native, err := nativeArch()
	if err != nil {
		return nil, err
	}
	abis := []archInfo{native}
	for _, name := range cfg.Architectures {
		arch, _ := lookupArch(name) // Validate checked it
		if err := scmpFilter.AddArch(arch.scmp); err != nil {
			return nil, fmt.Errorf("seccomp: add architecture "+
				"%s: %w", name, err)
		}
		abis = append(abis, arch)
	}

	var names []string
	for _, rule := range cfg.Syscalls {
		names = append(names, rule.Names...)
	}
	if len(names) > optimizeAbove {
		if err := scmpFilter.SetOptimize(2); err != nil {
			return nil, fmt.Errorf("seccomp: binary tree: %w", err)
		}
	}

	filter := &Filter{
		Flags:   filterFlags(cfg),
		Skipped: UnknownSyscalls(cfg),
	}
	for i := range cfg.Syscalls {
		err := addRule(scmpFilter, &cfg.Syscalls[i], defaultAction)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: %w",
				i, err)
		}
	}

	filter.Program, err = exportBPF(scmpFilter)
	if err != nil {
		return nil, err
	}
	if needsStub(cfg) {
		stub, err := enosysStub(lastKnownSyscalls(abis, names))
		if err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		filter.Program = append(stub, filter.Program...)
	}
	if len(filter.Program) > maxInsns {
		return nil, fmt.Errorf("%w: the filter has %d instructions, "+
			"the kernel takes at most %d", ErrInvalidProfile,
			len(filter.Program), maxInsns)
	}
	return filter, nil
}

// scmpAction converts a validated action and its errnoRet. runtime-spec:
// errnoRet defaults to EPERM.
func scmpAction(action specs.LinuxSeccompAction, errnoRet *uint,
) libseccomp.ScmpAction {
	info := actions[action]
	if !info.takesErrno {
		return info.scmp
	}
	code := uint(unix.EPERM)
	if errnoRet != nil {
		code = *errnoRet
	}
	// SetReturnCode keeps the low 16 bits; Validate checked it fits.
	return info.scmp.SetReturnCode(int16(uint16(code)))
}

// nativeArch is the ABI of this process, always part of a filter.
func nativeArch() (archInfo, error) {
	scmp, err := libseccomp.GetNativeArch()
	if err != nil {
		return archInfo{}, fmt.Errorf("seccomp: native "+
			"architecture: %w", err)
	}
	for _, info := range archs {
		if info.scmp == scmp {
			return info, nil
		}
	}
	return archInfo{}, fmt.Errorf("seccomp: native architecture %s: %w",
		scmp, ErrUnknownArch)
}

// addRule adds one validated rule of the profile, skipping the names
// libseccomp does not know.
func addRule(scmpFilter *libseccomp.ScmpFilter, rule *specs.LinuxSyscall,
	defaultAction libseccomp.ScmpAction,
) error {
	action := scmpAction(rule.Action, rule.ErrnoRet)
	// libseccomp refuses a rule that does what the default does anyway.
	if action == defaultAction {
		return nil
	}

	conds, split, err := conditions(rule.Args)
	if err != nil {
		return err
	}
	for _, name := range rule.Names {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			continue
		}
		switch {
		case len(conds) == 0:
			err = scmpFilter.AddRule(nr, action)
		case split:
			for _, cond := range conds {
				err = scmpFilter.AddRuleConditional(nr, action,
					[]libseccomp.ScmpCondition{cond})
				if err != nil {
					break
				}
			}
		default:
			err = scmpFilter.AddRuleConditional(nr, action, conds)
		}
		if err != nil {
			return fmt.Errorf("add rule for %q: %w", name, err)
		}
	}
	return nil
}

// conditions converts validated arguments. split is true when two of them
// test the same argument, which libseccomp cannot put in one rule.
func conditions(args []specs.LinuxSeccompArg,
) (conds []libseccomp.ScmpCondition, split bool, err error) {
	var seen [maxArgs]bool
	for i, arg := range args {
		op := operators[arg.Op]
		values := []uint64{arg.Value}
		// runtime-spec: for SCMP_CMP_MASKED_EQ, value is the mask and
		// valueTwo what the masked argument must equal.
		if op == libseccomp.CompareMaskedEqual {
			values = append(values, arg.ValueTwo)
		}
		cond, err := libseccomp.MakeCondition(arg.Index, op, values...)
		if err != nil {
			return nil, false, fmt.Errorf("args[%d]: %w", i, err)
		}
		conds = append(conds, cond)
		split = split || seen[arg.Index]
		seen[arg.Index] = true
	}
	return conds, split, nil
}

// needsStub tells whether the ENOSYS stub changes anything: not when an
// unmatched syscall runs anyway (ALLOW, LOG; TRACE too, since a tracer is
// expected to handle new syscalls itself), nor when it gets ENOSYS already.
func needsStub(cfg *specs.LinuxSeccomp) bool {
	switch cfg.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return false
	case specs.ActErrno:
		return cfg.DefaultErrnoRet == nil ||
			*cfg.DefaultErrnoRet != uint(unix.ENOSYS)
	}
	return true
}

// filterFlags returns the seccomp(2) flags for a validated cfg.
func filterFlags(cfg *specs.LinuxSeccomp) uint {
	var bits uint
	if cfg.Flags == nil {
		// No flags at all (not even an empty list): runc 1.2 sets
		// SPEC_ALLOW, so that a container does not pay for the
		// Speculative Store Bypass mitigation a filter otherwise
		// forces on kernels in spec_store_bypass_disable=seccomp mode.
		if flagSupported(unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW) {
			bits |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		}
	}
	for _, flag := range cfg.Flags {
		bits |= flags[flag]
	}
	for _, rule := range cfg.Syscalls {
		if rule.Action == specs.ActNotify {
			bits |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
			break
		}
	}
	// seccomp(2): TSYNC and NEW_LISTENER both return a number; with
	// TSYNC_ESRCH a thread that cannot be synchronised is ESRCH instead.
	const tsyncListener = unix.SECCOMP_FILTER_FLAG_TSYNC |
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	if bits&tsyncListener == tsyncListener {
		bits |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	return bits
}

// exportBPF reads the program libseccomp generates for scmpFilter.
// libseccomp 2.5 can only write it to an fd, so it goes through a memfd.
func exportBPF(scmpFilter *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export filter: memfd: %w", err)
	}
	file := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer file.Close()

	if err := scmpFilter.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	raw, err := io.ReadAll(file)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	return decodeBPF(raw)
}

// decodeBPF splits raw into struct sock_filter, which libseccomp writes in
// the machine's byte order.
func decodeBPF(raw []byte) ([]unix.SockFilter, error) {
	const size = 8 // sizeof(struct sock_filter)
	if len(raw) == 0 || len(raw)%size != 0 {
		return nil, fmt.Errorf("seccomp: export filter: %d bytes "+
			"is not a program", len(raw))
	}
	prog := make([]unix.SockFilter, len(raw)/size)
	for i := range prog {
		insn := raw[i*size : (i+1)*size]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(insn[0:2]),
			Jt:   insn[2],
			Jf:   insn[3],
			K:    binary.NativeEndian.Uint32(insn[4:8]),
		}
	}
	return prog, nil
}
