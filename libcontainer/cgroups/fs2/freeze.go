package fs2

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

// freezeTimeout bounds the wait for the kernel to report a freezer state.
// Freezing a cgroup whose tasks are in uninterruptible sleep can take a
// while, but not this long.
const freezeTimeout = 10 * time.Second

// setFreeze writes cgroup.freeze (Linux 5.2) and waits for the "frozen"
// key of cgroup.events to match.
func setFreeze(dir string, frozen bool) error {
	val := "0"
	if frozen {
		val = "1"
	}
	// Watch before writing, so the change cannot slip by unseen.
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("freeze %s: inotify: %w", dir, err)
	}
	defer unix.Close(fd)
	events := filepath.Join(dir, "cgroup.events")
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		return fmt.Errorf("freeze %s: watch cgroup.events: %w", dir, err)
	}

	if err := cgroups.WriteFile(dir, "cgroup.freeze", val); err != nil {
		if !frozen && errors.Is(err, os.ErrNotExist) {
			return nil // no freezer, nothing frozen
		}
		return fmt.Errorf("freeze: %w", err)
	}

	deadline := time.Now().Add(freezeTimeout)
	buf := make([]byte, 4096)
	for {
		got, err := eventsFrozen(dir)
		if err != nil {
			return err
		}
		// Thawing a cgroup whose ancestor is frozen leaves it frozen:
		// cgroup.freeze is what we own, and it says 0.
		if got == frozen || !frozen && !got {
			return nil
		}
		if !frozen {
			if own, err := cgroups.ReadFile(dir, "cgroup.freeze"); err == nil &&
				strings.TrimSpace(own) == "0" && parentFrozen(dir) {
				return nil
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("freeze %s: %w", dir, cgroups.ErrFrozenTimeout)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, err = unix.Poll(pfd, int(left.Milliseconds())+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("freeze %s: poll: %w", dir, err)
		}
		// Drain the queue; what changed is read from the file itself.
		for {
			if _, err := unix.Read(fd, buf); err != nil {
				break
			}
		}
	}
}

func parentFrozen(dir string) bool {
	f, err := eventsFrozen(filepath.Dir(dir))
	return err == nil && f
}

// eventsFrozen reads the "frozen" key of cgroup.events.
func eventsFrozen(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false, fmt.Errorf("read cgroup.events in %s: %w", dir, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "frozen "); ok {
			return v == "1", nil
		}
	}
	if err := s.Err(); err != nil {
		return false, fmt.Errorf("read cgroup.events in %s: %w", dir, err)
	}
	// Before Linux 5.2 there is no freezer and no key.
	return false, nil
}

// isFrozen reports whether cgroup.events says frozen.
func isFrozen(dir string) (bool, error) {
	return eventsFrozen(dir)
}
