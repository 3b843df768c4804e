package seccomp

import (
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Sentinel errors for the kinds of bad profile Validate and Compile
// reject; the returned error wraps one of them and names the culprit.
var (
	ErrUnknownAction      = errors.New("unknown seccomp action")
	ErrUnknownOperator    = errors.New("unknown seccomp operator")
	ErrUnknownArch        = errors.New("unknown seccomp architecture")
	ErrUnknownFlag        = errors.New("unknown seccomp flag")
	ErrUnsupported        = errors.New("not supported on this system")
	ErrInvalidProfile     = errors.New("invalid seccomp profile")
	ErrNoNewPrivsRequired = errors.New(
		"loading a seccomp filter needs no_new_privs or CAP_SYS_ADMIN")
)

// flagTsync is not named in runtime-spec 1.2.0, but runc accepts it, and
// so do we.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// actionInfo is what one runtime-spec action means to libseccomp and to
// the kernel.
type actionInfo struct {
	scmp libseccomp.ScmpAction
	// kernel is the SECCOMP_RET_* value probed with
	// SECCOMP_GET_ACTION_AVAIL (seccomp(2)).
	kernel uint32
	// takesErrno is true for the actions whose 16 data bits the
	// profile may set with errnoRet.
	takesErrno bool
}

// actions maps every action of the runtime-spec (config-linux.md,
// "Seccomp") to its meaning. SCMP_ACT_KILL is libseccomp's old name for
// SCMP_ACT_KILL_THREAD.
var actions = map[specs.LinuxSeccompAction]actionInfo{
	specs.ActKill: {
		libseccomp.ActKillThread, unix.SECCOMP_RET_KILL_THREAD, false},
	specs.ActKillThread: {
		libseccomp.ActKillThread, unix.SECCOMP_RET_KILL_THREAD, false},
	specs.ActKillProcess: {
		libseccomp.ActKillProcess, unix.SECCOMP_RET_KILL_PROCESS,
		false},
	specs.ActTrap:  {libseccomp.ActTrap, unix.SECCOMP_RET_TRAP, false},
	specs.ActErrno: {libseccomp.ActErrno, unix.SECCOMP_RET_ERRNO, true},
	specs.ActTrace: {libseccomp.ActTrace, unix.SECCOMP_RET_TRACE, true},
	specs.ActAllow: {libseccomp.ActAllow, unix.SECCOMP_RET_ALLOW, false},
	specs.ActLog:   {libseccomp.ActLog, unix.SECCOMP_RET_LOG, false},
	specs.ActNotify: {
		libseccomp.ActNotify, unix.SECCOMP_RET_USER_NOTIF, false},
}

// operators maps the runtime-spec comparison operators to libseccomp's.
var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// archInfo is one architecture (ABI) a profile may name.
type archInfo struct {
	scmp libseccomp.ScmpArch
	// audit is the AUDIT_ARCH_* value the kernel puts in
	// seccomp_data.arch. x32 shares x86_64's and sets bit 30 of the
	// syscall number instead (see syscall(2)).
	audit uint32
}

// archs maps the SCMP_ARCH_* names of the runtime-spec, plus the later
// ones libseccomp 2.6 added, to libseccomp and the kernel. Whether the
// linked libseccomp knows one is checked by archSupported.
var archs = map[specs.Arch]archInfo{
	specs.ArchX86:     {libseccomp.ArchX86, unix.AUDIT_ARCH_I386},
	specs.ArchX86_64:  {libseccomp.ArchAMD64, unix.AUDIT_ARCH_X86_64},
	specs.ArchX32:     {libseccomp.ArchX32, unix.AUDIT_ARCH_X86_64},
	specs.ArchARM:     {libseccomp.ArchARM, unix.AUDIT_ARCH_ARM},
	specs.ArchAARCH64: {libseccomp.ArchARM64, unix.AUDIT_ARCH_AARCH64},
	specs.ArchMIPS:    {libseccomp.ArchMIPS, unix.AUDIT_ARCH_MIPS},
	specs.ArchMIPS64:  {libseccomp.ArchMIPS64, unix.AUDIT_ARCH_MIPS64},
	specs.ArchMIPS64N32: {
		libseccomp.ArchMIPS64N32, unix.AUDIT_ARCH_MIPS64N32},
	specs.ArchMIPSEL:   {libseccomp.ArchMIPSEL, unix.AUDIT_ARCH_MIPSEL},
	specs.ArchMIPSEL64: {libseccomp.ArchMIPSEL64, unix.AUDIT_ARCH_MIPSEL64},
	specs.ArchMIPSEL64N32: {
		libseccomp.ArchMIPSEL64N32, unix.AUDIT_ARCH_MIPSEL64N32},
	specs.ArchPPC:      {libseccomp.ArchPPC, unix.AUDIT_ARCH_PPC},
	specs.ArchPPC64:    {libseccomp.ArchPPC64, unix.AUDIT_ARCH_PPC64},
	specs.ArchPPC64LE:  {libseccomp.ArchPPC64LE, unix.AUDIT_ARCH_PPC64LE},
	specs.ArchS390:     {libseccomp.ArchS390, unix.AUDIT_ARCH_S390},
	specs.ArchS390X:    {libseccomp.ArchS390X, unix.AUDIT_ARCH_S390X},
	specs.ArchPARISC:   {libseccomp.ArchPARISC, unix.AUDIT_ARCH_PARISC},
	specs.ArchPARISC64: {libseccomp.ArchPARISC64, unix.AUDIT_ARCH_PARISC64},
	specs.ArchRISCV64:  {libseccomp.ArchRISCV64, unix.AUDIT_ARCH_RISCV64},
	"SCMP_ARCH_LOONGARCH64": {
		libseccomp.ArchLOONGARCH64, unix.AUDIT_ARCH_LOONGARCH64},
	"SCMP_ARCH_M68K": {libseccomp.ArchM68K, unix.AUDIT_ARCH_M68K},
	// libseccomp's "sh" is little-endian SuperH, "sheb" big-endian.
	"SCMP_ARCH_SH":   {libseccomp.ArchSH, unix.AUDIT_ARCH_SHEL},
	"SCMP_ARCH_SHEB": {libseccomp.ArchSHEB, unix.AUDIT_ARCH_SH},
}

// flags maps the filter flags a profile may ask for to seccomp(2)'s.
var flags = map[specs.LinuxSeccompFlag]uint{
	// Linux 3.17: the filter goes to every thread of the process.
	flagTsync: unix.SECCOMP_FILTER_FLAG_TSYNC,

	// Linux 4.14: every action but ALLOW is logged.
	specs.LinuxSeccompFlagLog: unix.SECCOMP_FILTER_FLAG_LOG,

	// Linux 4.17: the filter does not force the Speculative Store
	// Bypass mitigation on.
	specs.LinuxSeccompFlagSpecAllow: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,

	// Linux 5.19: a task waiting for the agent's answer can only be
	// killed, not interrupted, once the agent has read the notification.
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

// handOffSyscalls are the syscalls init may use, after the filter is
// loaded, to pass the listener fd to its parent: sendmsg(2) carries it
// today, and runc writes its number with write(2), which runc users
// already know they cannot notify. Were one of them answered by
// SCMP_ACT_NOTIFY, init would wait for an agent that never gets the fd.
var handOffSyscalls = []string{"sendmsg", "write"}

// maxArgs is the number of syscall arguments seccomp_data carries.
const maxArgs = 6

// Validate checks everything about cfg that can be known before the
// container exists: that every action, operator, architecture and flag is
// known, that this kernel and libseccomp support them, and that errnoRet,
// argument indexes and SCMP_ACT_NOTIFY are used where they make sense. A
// nil cfg is valid and means no filter. Syscall names unknown to
// libseccomp are not an error (see UnknownSyscalls).
func Validate(cfg *specs.LinuxSeccomp) error {
	if cfg == nil {
		return nil
	}
	if err := validateAction("defaultAction", cfg.DefaultAction,
		cfg.DefaultErrnoRet); err != nil {
		return err
	}
	if cfg.DefaultAction == specs.ActNotify {
		return fmt.Errorf("%w: defaultAction %s: init itself "+
			"would wait for the agent", ErrInvalidProfile,
			specs.ActNotify)
	}

	for _, arch := range cfg.Architectures {
		if _, err := lookupArch(arch); err != nil {
			return err
		}
	}

	notify := false
	for i, rule := range cfg.Syscalls {
		if err := validateRule(i, &rule); err != nil {
			return err
		}
		if rule.Action == specs.ActNotify {
			notify = true
		}
	}
	if notify && cfg.ListenerPath == "" {
		return fmt.Errorf("%w: %s is used but listenerPath is empty",
			ErrInvalidProfile, specs.ActNotify)
	}

	for _, flag := range cfg.Flags {
		if err := validateFlag(flag, notify); err != nil {
			return err
		}
	}
	return nil
}

// validateAction checks an action and the errnoRet that goes with it;
// where names the field for the error.
func validateAction(where string, action specs.LinuxSeccompAction,
	errnoRet *uint,
) error {
	info, ok := actions[action]
	if !ok {
		return fmt.Errorf("%s: %w %q", where, ErrUnknownAction, action)
	}
	if !actionSupported(info.kernel) {
		return fmt.Errorf("%s: %s: %w (kernel lacks it)",
			where, action, ErrUnsupported)
	}
	if errnoRet == nil {
		return nil
	}
	// runtime-spec: an errnoRet on an action without one is an error.
	if !info.takesErrno {
		return fmt.Errorf("%w: %s: errnoRet is set but %s takes none",
			ErrInvalidProfile, where, action)
	}
	// The value travels in the 16 data bits of SECCOMP_RET_*.
	if *errnoRet > unix.SECCOMP_RET_DATA {
		return fmt.Errorf("%w: %s: errnoRet %d does not fit in 16 bits",
			ErrInvalidProfile, where, *errnoRet)
	}
	return nil
}

// validateRule checks syscalls[i].
func validateRule(i int, rule *specs.LinuxSyscall) error {
	where := fmt.Sprintf("syscalls[%d]", i)
	if len(rule.Names) == 0 {
		return fmt.Errorf("%w: %s: names is empty",
			ErrInvalidProfile, where)
	}
	for _, name := range rule.Names {
		if name == "" {
			return fmt.Errorf("%w: %s: empty syscall name",
				ErrInvalidProfile, where)
		}
	}
	err := validateAction(where, rule.Action, rule.ErrnoRet)
	if err != nil {
		return err
	}
	if rule.Action == specs.ActNotify {
		for _, name := range rule.Names {
			if slices.Contains(handOffSyscalls, name) {
				return fmt.Errorf("%w: %s: %s on %q: "+
					"init needs it to hand the listener "+
					"to the runtime", ErrInvalidProfile,
					where, specs.ActNotify, name)
			}
		}
	}
	for j, arg := range rule.Args {
		if _, ok := operators[arg.Op]; !ok {
			return fmt.Errorf("%s.args[%d]: %w %q",
				where, j, ErrUnknownOperator, arg.Op)
		}
		if arg.Index >= maxArgs {
			return fmt.Errorf("%w: %s.args[%d]: index %d, a "+
				"syscall has at most %d arguments",
				ErrInvalidProfile, where, j, arg.Index, maxArgs)
		}
	}
	return nil
}

// validateFlag checks one filter flag; notify tells whether the profile
// uses SCMP_ACT_NOTIFY.
func validateFlag(flag specs.LinuxSeccompFlag, notify bool) error {
	bit, ok := flags[flag]
	if !ok {
		return fmt.Errorf("flags: %w %q", ErrUnknownFlag, flag)
	}
	probe := bit
	if bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
		// seccomp(2): it only means something for a listener.
		if !notify {
			return fmt.Errorf("%w: flags: %s needs a rule with %s",
				ErrInvalidProfile, flag, specs.ActNotify)
		}
		probe |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	if !flagSupported(probe) {
		return fmt.Errorf("flags: %s: %w (kernel lacks it)",
			flag, ErrUnsupported)
	}
	return nil
}

// lookupArch resolves a profile architecture and checks that the linked
// libseccomp supports it.
func lookupArch(arch specs.Arch) (archInfo, error) {
	info, ok := archs[arch]
	if !ok {
		return archInfo{}, fmt.Errorf("architectures: %w %q",
			ErrUnknownArch, arch)
	}
	if !archSupported(info.scmp) {
		return archInfo{}, fmt.Errorf("architectures: %s: %w "+
			"(libseccomp %s lacks it)", arch, ErrUnsupported,
			Version())
	}
	return info, nil
}

// archSupported tells whether the linked libseccomp can build filters for
// arch: it resolves a syscall name for it only if it has its table.
func archSupported(arch libseccomp.ScmpArch) bool {
	_, err := libseccomp.GetSyscallFromNameByArch("close", arch)
	return err == nil
}

// UnknownSyscalls returns the syscall names in cfg that the linked
// libseccomp cannot resolve. Compile skips them, as runc does, so that a
// profile written for a newer kernel still loads; the caller may log them.
func UnknownSyscalls(cfg *specs.LinuxSeccomp) []string {
	if cfg == nil {
		return nil
	}
	var unknown []string
	for _, rule := range cfg.Syscalls {
		for _, name := range rule.Names {
			_, err := libseccomp.GetSyscallFromName(name)
			if err != nil && !slices.Contains(unknown, name) {
				unknown = append(unknown, name)
			}
		}
	}
	return unknown
}
