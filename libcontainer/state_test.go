package libcontainer

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc", true}, {"a-b_c.d+e", true}, {"a..b", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false},
		{"../x", false}, {"a b", false}, {"a\x00b", false},
	} {
		err := ValidateID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) error %v is not ErrInvalidID", tc.id, err)
		}
	}
}

func TestWriteStateIsReadBack(t *testing.T) {
	dir := t.TempDir()
	want := &State{ID: "x", InitPid: 42, InitStartTime: 7,
		Created: time.Now().UTC().Round(0)}
	if err := writeState(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.InitPid != 42 || got.InitStartTime != 7 ||
		!got.Created.Equal(want.Created) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

func TestStartTimeOfSelfIsStable(t *testing.T) {
	a, err := startTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := startTime(os.Getpid())
	if a == 0 || a != b {
		t.Fatalf("start times %d, %d", a, b)
	}
	if _, err := startTime(1 << 30); err == nil {
		t.Fatal("start time of a pid that cannot exist")
	}
}
