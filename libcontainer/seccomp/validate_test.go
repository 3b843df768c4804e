package seccomp

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestValidateRejectsBadProfiles(t *testing.T) {
	allow := func(names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActAllow}
	}
	tests := []struct {
		name    string
		profile specs.LinuxSeccomp
		want    error
		naming  string
	}{{
		name:    "unknown default action",
		profile: specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"},
		want:    ErrUnknownAction,
		naming:  `defaultAction: unknown seccomp action "SCMP_ACT_NOPE"`,
	}, {
		name: "unknown rule action",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{allow("read"),
				{Names: []string{"write"}, Action: "SCMP_ACT_MAYBE"}},
		},
		want:   ErrUnknownAction,
		naming: `syscalls[1]: unknown seccomp action "SCMP_ACT_MAYBE"`,
	}, {
		name: "unknown operator",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"personality"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 1, Op: "SCMP_CMP_ABOUT"}},
			}},
		},
		want:   ErrUnknownOperator,
		naming: `syscalls[0].args[0]: unknown seccomp operator "SCMP_CMP_ABOUT"`,
	}, {
		name: "argument index past the sixth",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"personality"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{
					{Index: 6, Value: 1, Op: specs.OpEqualTo}},
			}},
		},
		want:   ErrInvalidProfile,
		naming: "index 6",
	}, {
		name: "unknown architecture",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86_64, "SCMP_ARCH_Z80"},
		},
		want:   ErrUnknownArch,
		naming: `architectures: unknown seccomp architecture "SCMP_ARCH_Z80"`,
	}, {
		name: "unknown flag",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Flags:         []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"},
		},
		want:   ErrUnknownFlag,
		naming: `"SECCOMP_FILTER_FLAG_FAST"`,
	}, {
		name: "errnoRet on an action without one",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read"},
				Action: specs.ActAllow, ErrnoRet: errnoRet(unix.EPERM)}},
		},
		want:   ErrInvalidProfile,
		naming: "syscalls[0]: errnoRet is set but SCMP_ACT_ALLOW takes none",
	}, {
		name: "defaultErrnoRet on a kill",
		profile: specs.LinuxSeccomp{
			DefaultAction:   specs.ActKillProcess,
			DefaultErrnoRet: errnoRet(unix.EPERM),
		},
		want:   ErrInvalidProfile,
		naming: "defaultAction: errnoRet",
	}, {
		name: "errnoRet past 16 bits",
		profile: specs.LinuxSeccomp{
			DefaultAction:   specs.ActErrno,
			DefaultErrnoRet: errnoRet(70000),
		},
		want:   ErrInvalidProfile,
		naming: "errnoRet 70000",
	}, {
		name:    "notify as the default action",
		profile: specs.LinuxSeccomp{DefaultAction: specs.ActNotify},
		want:    ErrInvalidProfile,
		naming:  "defaultAction SCMP_ACT_NOTIFY",
	}, {
		name: "notify on write",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			ListenerPath:  "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"mkdir", "write"}, Action: specs.ActNotify}},
		},
		want:   ErrInvalidProfile,
		naming: `SCMP_ACT_NOTIFY on "write"`,
	}, {
		name: "notify on sendmsg",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			ListenerPath:  "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"sendmsg"}, Action: specs.ActNotify}},
		},
		want:   ErrInvalidProfile,
		naming: `SCMP_ACT_NOTIFY on "sendmsg"`,
	}, {
		name: "notify without a listener",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"mkdir"}, Action: specs.ActNotify}},
		},
		want:   ErrInvalidProfile,
		naming: "listenerPath is empty",
	}, {
		name: "WAIT_KILLABLE_RECV without notify",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Flags: []specs.LinuxSeccompFlag{
				specs.LinuxSeccompFlagWaitKillableRecv},
		},
		want:   ErrInvalidProfile,
		naming: "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule",
	}, {
		name: "a rule without names",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls:      []specs.LinuxSyscall{allow()},
		},
		want:   ErrInvalidProfile,
		naming: "syscalls[0]: names is empty",
	}, {
		name: "an empty name",
		profile: specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls:      []specs.LinuxSyscall{allow("read", "")},
		},
		want:   ErrInvalidProfile,
		naming: "syscalls[0]: empty syscall name",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for fn, f := range map[string]func() error{
				"Validate": func() error { return Validate(&tt.profile) },
				"Compile": func() error {
					_, err := Compile(&tt.profile)
					return err
				},
				"Cache.Compile": func() error {
					_, err := Cache{Dir: t.TempDir()}.Compile(&tt.profile)
					return err
				},
			} {
				err := f()
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s: %v, want %v", fn, err, tt.want)
				}
				msg := err.Error()
				if !strings.Contains(msg, tt.naming) ||
					strings.Contains(msg, "\n") {
					t.Errorf("%s: %q, want one line with %q",
						fn, msg, tt.naming)
				}
			}
		})
	}
}

func TestValidateRejectsArchitecturesLibseccompLacks(t *testing.T) {
	var lacking specs.Arch
	for name, info := range archs {
		if !archSupported(info.scmp) {
			lacking = name
			break
		}
	}
	if lacking == "" {
		t.Skipf("libseccomp %s supports every architecture towel knows",
			Version())
	}
	err := Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{lacking}})
	if !errors.Is(err, ErrUnsupported) ||
		!strings.Contains(err.Error(), string(lacking)) {
		t.Errorf("%s: %v, want an error naming it", lacking, err)
	}
}

func TestValidateAcceptsGoodProfiles(t *testing.T) {
	tests := map[string]*specs.LinuxSeccomp{
		"none": nil,
		"docker-style": dockerStyleProfile(t, []specs.Arch{
			specs.ArchX86_64, specs.ArchX86, specs.ArchX32}),
		"trace with errnoRet": oneRule(specs.ActTrace, errnoRet(9), "read"),
		"errnoRet at 16 bits": oneRule(specs.ActErrno, errnoRet(0xffff),
			"read"),
		"every flag, with notify": {
			DefaultAction: specs.ActAllow,
			ListenerPath:  "/run/agent.sock",
			Flags: []specs.LinuxSeccompFlag{flagTsync,
				specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow,
				specs.LinuxSeccompFlagWaitKillableRecv},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"},
				Action: specs.ActNotify}},
		},
	}
	for name, profile := range tests {
		if err := Validate(profile); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestUnknownSyscallsAreListedNotRejected(t *testing.T) {
	profile := oneRule(specs.ActErrno, nil, "read", "not_a_syscall",
		"also_not", "not_a_syscall")
	if err := Validate(profile); err != nil {
		t.Fatal(err)
	}
	want := []string{"not_a_syscall", "also_not"}
	if got := UnknownSyscalls(profile); !slices.Equal(got, want) {
		t.Errorf("UnknownSyscalls: %v, want %v", got, want)
	}
	filter, err := Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(filter.Skipped, want) {
		t.Errorf("Skipped: %v, want %v", filter.Skipped, want)
	}
}

func TestBadProfileLoadsNothing(t *testing.T) {
	c := runChild(t, childPlan{
		NoNewPrivs: true,
		Profile:    &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"},
	})
	if c.state.ExitCode() != 0 || c.result.LoadErr == "" ||
		c.result.Filters != "0" {
		t.Errorf("child: %v, %+v, want an error and no filter",
			c.state, c.result)
	}
}
