package capabilities

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseSetsTheCapabilityBits(t *testing.T) {
	set, unsupported, err := Parse([]string{"CAP_CHOWN", "cap_kill",
		"CAP_SYS_ADMIN"})
	if err != nil || len(unsupported) > 0 {
		t.Fatalf("Parse: %v, unsupported %v", err, unsupported)
	}
	want := Set(1<<0 | 1<<5 | 1<<21)
	if set != want {
		t.Fatalf("got %#x, want %#x", set, want)
	}
}

func TestParseRefusesUnknownNames(t *testing.T) {
	if _, _, err := Parse([]string{"CAP_NOT_A_THING"}); err == nil {
		t.Fatal("an unknown capability was accepted")
	}
}

func TestFromSpecFillsEverySet(t *testing.T) {
	s, err := FromSpec(&specs.LinuxCapabilities{
		Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"},
		Permitted: []string{"CAP_KILL"}, Inheritable: []string{"CAP_KILL"},
		Ambient: []string{"CAP_KILL"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]Set{"bounding": s.Bounding,
		"effective": s.Effective, "permitted": s.Permitted,
		"inheritable": s.Inheritable, "ambient": s.Ambient} {
		if got != 1<<5 {
			t.Errorf("%s set is %#x", name, got)
		}
	}
	empty, err := FromSpec(nil)
	if err != nil || *empty != (Sets{}) {
		t.Fatalf("nil capabilities should give empty sets: %+v %v", empty, err)
	}
}

func TestKnownListsEveryNameOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Known() {
		if n == "" || seen[n] {
			t.Fatalf("bad or repeated name %q in Known()", n)
		}
		seen[n] = true
	}
	if !seen["CAP_CHECKPOINT_RESTORE"] || len(seen) != len(names) {
		t.Fatalf("Known() has %d names, want %d", len(seen), len(names))
	}
}
