package seccomp

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestTsyncFiltersEveryThread(t *testing.T) {
	for _, tt := range []struct {
		name    string
		flags   []specs.LinuxSeccompFlag
		errno   unix.Errno
		filters string
	}{
		{"TSYNC", []specs.LinuxSeccompFlag{flagTsync}, unix.EPERM, "1"},
		{"no flags", []specs.LinuxSeccompFlag{}, 0, "0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			profile := oneRule(specs.ActErrno, nil, "getppid")
			profile.Flags = tt.flags
			got := runChild(t, childPlan{
				NoNewPrivs:  true,
				Profile:     profile,
				OtherThread: true,
				Calls:       []rawCall{{Nr: sysno(t, "getppid")}},
			}).mustReport(t)
			if got.Results[0].Errno != tt.errno ||
				got.Filters != tt.filters {
				t.Errorf("other thread: errno %v with %s filters, "+
					"want %v with %s", got.Results[0].Errno,
					got.Filters, tt.errno, tt.filters)
			}
		})
	}
}

func TestLogFlagLogsErrnoActions(t *testing.T) {
	getppid, getpgid := sysno(t, "getppid"), sysno(t, "getpgid")
	// The record names the action, without its data.
	errnoRecord := fmt.Sprintf(" syscall=%d ", getppid)
	for _, tt := range []struct {
		name  string
		flags []specs.LinuxSeccompFlag
		log   bool
	}{
		{"LOG", []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, true},
		{"no flags", []specs.LinuxSeccompFlag{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			audit := openAudit(t)
			// getpgid is logged either way, and after getppid, so
			// its record shows that getppid's had its chance.
			profile := oneRule(specs.ActErrno, nil, "getppid")
			profile.Syscalls = append(profile.Syscalls, specs.LinuxSyscall{
				Names: []string{"getpgid"}, Action: specs.ActLog})
			profile.Flags = tt.flags
			c := runChild(t, childPlan{
				NoNewPrivs: true,
				Profile:    profile,
				Calls:      []rawCall{{Nr: getppid}, {Nr: getpgid}},
			})
			if got := c.mustReport(t).Results[0]; got.Errno != unix.EPERM {
				t.Fatalf("getppid: errno %v, want EPERM", got.Errno)
			}
			records := audit.waitRecord(t, c.state.Pid(), getpgid,
				unix.SECCOMP_RET_LOG)
			logged := false
			for _, r := range records {
				logged = logged || strings.Contains(r, errnoRecord) &&
					strings.Contains(r, fmt.Sprintf(" code=%#x",
						unix.SECCOMP_RET_ERRNO))
			}
			if logged != tt.log {
				t.Errorf("ERRNO logged: %v, want %v; records %q",
					logged, tt.log, records)
			}
		})
	}
}

func TestSpecAllowIsTheDefaultFlag(t *testing.T) {
	rules := oneRule(specs.ActErrno, nil, "getppid").Syscalls
	for _, tt := range []struct {
		name  string
		flags []specs.LinuxSeccompFlag
		want  uint
	}{
		{"flags unset", nil, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{"flags empty", []specs.LinuxSeccompFlag{}, 0},
		{"LOG", []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
			unix.SECCOMP_FILTER_FLAG_LOG},
		{"every flag", []specs.LinuxSeccompFlag{flagTsync,
			specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
			unix.SECCOMP_FILTER_FLAG_TSYNC |
				unix.SECCOMP_FILTER_FLAG_LOG |
				unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	} {
		t.Run(tt.name, func(t *testing.T) {
			filter, err := Compile(&specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Flags:         tt.flags,
				Syscalls:      rules,
			})
			if err != nil {
				t.Fatal(err)
			}
			if filter.Flags != tt.want {
				t.Errorf("flags %#x, want %#x", filter.Flags, tt.want)
			}
		})
	}
}

func TestSpecAllowLeavesSpeculationAlone(t *testing.T) {
	// Only in spec_store_bypass_disable=seccomp mode does a filter turn
	// the mitigation on; SPEC_ALLOW is what keeps it off.
	mode, err := os.ReadFile(
		"/sys/devices/system/cpu/vulnerabilities/spec_store_bypass")
	if err != nil || !strings.Contains(string(mode), "seccomp") {
		t.Skipf("the kernel's Speculative Store Bypass mode is %q, "+
			"not seccomp: no filter changes it", strings.TrimSpace(
			string(mode)))
	}
	for _, tt := range []struct {
		flags      []specs.LinuxSeccompFlag
		mitigation bool
	}{
		{nil, false},
		{[]specs.LinuxSeccompFlag{}, true},
	} {
		profile := oneRule(specs.ActErrno, nil, "getppid")
		profile.Flags = tt.flags
		got := runChild(t, childPlan{NoNewPrivs: true, Profile: profile,
			Calls: []rawCall{{Nr: sysno(t, "getppid")}}}).mustReport(t)
		if strings.Contains(got.SpecStoreBypass, "mitigated") !=
			tt.mitigation {
			t.Errorf("flags %v: %q", tt.flags, got.SpecStoreBypass)
		}
	}
}

func TestKernelKnowsEveryFlagOnThisMachine(t *testing.T) {
	for flag := range flags {
		if err := validateFlag(flag, true); err != nil {
			t.Errorf("%s: %v", flag, err)
		}
	}
	if flagSupported(1 << 30) {
		t.Errorf("the probe accepts a flag no kernel has")
	}
	if actionSupported(0x12340000) {
		t.Errorf("the probe accepts an action no kernel has")
	}
}

// pretendKernelLacks makes the probes answer no for the flag bits or the
// action, until the test ends. Tests using it must not be parallel.
func pretendKernelLacks(t *testing.T, flagBits uint, action uint32) {
	probes.Lock()
	defer probes.Unlock()
	oldFlags, oldActions := probes.flags, probes.actions
	probes.flags = maps.Clone(oldFlags)
	probes.actions = maps.Clone(oldActions)
	if probes.flags == nil {
		probes.flags = map[uint]bool{}
	}
	if probes.actions == nil {
		probes.actions = map[uint32]bool{}
	}
	if flagBits != 0 {
		probes.flags[flagBits] = false
	}
	if action != 0 {
		probes.actions[action] = false
	}
	t.Cleanup(func() {
		probes.Lock()
		defer probes.Unlock()
		probes.flags, probes.actions = oldFlags, oldActions
	})
}

func TestFlagTheKernelLacksIsRejected(t *testing.T) {
	pretendKernelLacks(t, unix.SECCOMP_FILTER_FLAG_LOG, 0)
	profile := oneRule(specs.ActErrno, nil, "getppid")
	profile.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}
	err := Validate(profile)
	if !errors.Is(err, ErrUnsupported) ||
		!strings.Contains(err.Error(), "SECCOMP_FILTER_FLAG_LOG") {
		t.Errorf("Validate: %v, want it to name the unsupported flag", err)
	}

	features := FeaturesInfo()
	if !slices.Contains(features.KnownFlags, "SECCOMP_FILTER_FLAG_LOG") ||
		slices.Contains(features.SupportedFlags, "SECCOMP_FILTER_FLAG_LOG") {
		t.Errorf("features: known %v, supported %v", features.KnownFlags,
			features.SupportedFlags)
	}
}

func TestNoSpecAllowByDefaultWhenTheKernelLacksIt(t *testing.T) {
	pretendKernelLacks(t, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, 0)
	filter, err := Compile(oneRule(specs.ActErrno, nil, "getppid"))
	if err != nil {
		t.Fatal(err)
	}
	if filter.Flags != 0 {
		t.Errorf("flags %#x, want none", filter.Flags)
	}
}

func TestActionTheKernelLacksIsRejected(t *testing.T) {
	pretendKernelLacks(t, 0, unix.SECCOMP_RET_USER_NOTIF)
	profile := oneRule(specs.ActNotify, nil, "getppid")
	profile.ListenerPath = "/run/agent.sock"
	err := Validate(profile)
	if !errors.Is(err, ErrUnsupported) ||
		!strings.Contains(err.Error(), "SCMP_ACT_NOTIFY") {
		t.Errorf("Validate: %v, want it to name the unsupported action", err)
	}
}
