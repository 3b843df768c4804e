package fs

import (
	"fmt"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

type freezerGroup struct{}

func (freezerGroup) name() string                            { return "freezer" }
func (freezerGroup) needed(*specs.LinuxResources) bool       { return false }
func (freezerGroup) set(string, *specs.LinuxResources) error { return nil }
func (freezerGroup) stat(string, *cgroups.Stats) error       { return nil }

func freezerState(dir string) (string, error) {
	s, err := cgroups.ReadFile(dir, "freezer.state")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// setFreezer writes freezer.state and waits until it reads back the same.
//
// v1 freezing is asynchronous: the state stays FREEZING while a task is in
// an uninterruptible sleep, or when a task forks or enters the cgroup as
// it is frozen. Writing FROZEN again makes the kernel retry; thawing for
// a moment every so often unsticks a task caught in vfork. Thawing
// completes at once.
func setFreezer(dir string, frozen bool) error {
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	if !frozen {
		if err := cgroups.WriteFile(dir, "freezer.state", want); err != nil {
			return err
		}
		return waitFreezer(dir, want)
	}

	const tries = 1000
	for i := 0; i < tries; i++ {
		if i > 0 && i%25 == 0 {
			if err := cgroups.WriteFile(dir, "freezer.state", "THAWED"); err != nil {
				return err
			}
			time.Sleep(time.Duration(i/25) * time.Millisecond)
		}
		if err := cgroups.WriteFile(dir, "freezer.state", want); err != nil {
			return err
		}
		state, err := freezerState(dir)
		if err != nil {
			return err
		}
		switch state {
		case "FROZEN":
			return nil
		case "FREEZING":
			time.Sleep(100 * time.Microsecond)
		default:
			return fmt.Errorf("freeze %s: unexpected state %q", dir, state)
		}
	}
	// Leave the cgroup as it was found rather than half frozen.
	_ = cgroups.WriteFile(dir, "freezer.state", "THAWED")
	return fmt.Errorf("freeze %s: %w", dir, cgroups.ErrFrozenTimeout)
}

func waitFreezer(dir, want string) error {
	for i := 0; i < 1000; i++ {
		state, err := freezerState(dir)
		if err != nil {
			return err
		}
		if state == want {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("set %s to %s: %w", dir, want,
		cgroups.ErrFrozenTimeout)
}
