package seccomp

import (
	"regexp"
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestFeaturesInfo(t *testing.T) {
	info := FeaturesInfo()
	if info.Enabled == nil || !*info.Enabled {
		t.Errorf("enabled: %v", info.Enabled)
	}
	wantActions := []string{
		"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
		"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
		"SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
	}
	if !slices.Equal(info.Actions, wantActions) {
		t.Errorf("actions: %v, want %v", info.Actions, wantActions)
	}
	wantOps := []string{
		"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
		"SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
	}
	if !slices.Equal(info.Operators, wantOps) {
		t.Errorf("operators: %v, want %v", info.Operators, wantOps)
	}
	for _, arch := range []specs.Arch{specs.ArchX86_64, specs.ArchX86,
		specs.ArchX32, specs.ArchAARCH64, specs.ArchS390X} {
		if !slices.Contains(info.Archs, string(arch)) {
			t.Errorf("archs %v lack %s", info.Archs, arch)
		}
	}
	for _, arch := range info.Archs {
		if !archSupported(archs[specs.Arch(arch)].scmp) {
			t.Errorf("archs list %s, which libseccomp lacks", arch)
		}
	}
	wantFlags := []string{
		"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
		"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
	}
	if !slices.Equal(info.KnownFlags, wantFlags) {
		t.Errorf("known flags: %v, want %v", info.KnownFlags, wantFlags)
	}
	// This machine's kernel (5.19 or later) takes them all.
	if !slices.Equal(info.SupportedFlags, wantFlags) {
		t.Errorf("supported flags: %v, want %v", info.SupportedFlags,
			wantFlags)
	}
}

func TestVersion(t *testing.T) {
	if v := Version(); !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Errorf("Version() = %q", v)
	}
}
