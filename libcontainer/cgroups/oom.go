package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// NotifyOOM watches the memory controller of m's cgroup for the kernel's
// OOM killer. The channel receives a value each time the killer acts in
// the cgroup (a burst may be reported once) and is closed when the cgroup
// is removed, when it has no process left (v2), or when ctx is done.
//
// On v1 it registers an eventfd for memory.oom_control through
// cgroup.event_control (cgroup-v1/memory.rst, "OOM Control"); on v2 it
// watches memory.events with inotify and reports increases of oom_kill.
func NotifyOOM(ctx context.Context, m Manager) (<-chan struct{}, error) {
	dir := m.Path("memory")
	if dir == "" {
		return nil, fmt.Errorf("notify oom: %w", ErrNoCgroup)
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.oom_control")); err == nil {
		return notifyOOMv1(ctx, dir)
	}
	return notifyOOMv2(ctx, dir)
}

func notifyOOMv1(ctx context.Context, dir string) (<-chan struct{}, error) {
	control, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("notify oom: %w", err)
	}
	defer control.Close()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("notify oom: eventfd: %w", err)
	}
	// The poller makes Read block without a thread and Close wake it.
	event := os.NewFile(uintptr(efd), "oom eventfd")
	reg := fmt.Sprintf("%d %d", efd, control.Fd())
	if err := WriteFile(dir, "cgroup.event_control", reg); err != nil {
		event.Close()
		return nil, fmt.Errorf("notify oom: %w", err)
	}

	ch := make(chan struct{}, 1)
	stop := context.AfterFunc(ctx, func() { event.Close() })
	go func() {
		defer close(ch)
		defer stop()
		defer event.Close()
		buf := make([]byte, 8)
		for {
			if _, err := event.Read(buf); err != nil {
				return
			}
			// The eventfd also fires when the cgroup is removed.
			if _, err := os.Stat(filepath.Join(dir,
				"cgroup.event_control")); err != nil {
				return
			}
			send(ch)
		}
	}()
	return ch, nil
}

// send delivers without blocking: an unread notice already says enough.
func send(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func notifyOOMv2(ctx context.Context, dir string) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("notify oom: inotify: %w", err)
	}
	watch := os.NewFile(uintptr(fd), "oom inotify")
	for _, f := range []string{"memory.events", "cgroup.events"} {
		_, err := unix.InotifyAddWatch(fd, filepath.Join(dir, f), unix.IN_MODIFY)
		if err != nil {
			watch.Close()
			return nil, fmt.Errorf("notify oom: watch %s in %s: %w", f, dir, err)
		}
	}
	last, err := oomKills(dir)
	if err != nil {
		watch.Close()
		return nil, fmt.Errorf("notify oom: %w", err)
	}

	ch := make(chan struct{}, 1)
	stop := context.AfterFunc(ctx, func() { watch.Close() })
	go func() {
		defer close(ch)
		defer stop()
		defer watch.Close()
		buf := make([]byte, 4096)
		for {
			n, err := watch.Read(buf)
			if err != nil {
				return
			}
			if ignored(buf[:n]) {
				return // a watched file went away with the cgroup
			}
			kills, err := oomKills(dir)
			if err != nil {
				return
			}
			if kills > last {
				last = kills
				send(ch)
			}
			if !populated(dir) {
				return
			}
		}
	}()
	return ch, nil
}

// ignored reports whether an inotify read holds IN_IGNORED, sent when a
// watch is removed because its file is gone.
func ignored(buf []byte) bool {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		if ev.Mask&unix.IN_IGNORED != 0 {
			return true
		}
		buf = buf[unix.SizeofInotifyEvent+int(ev.Len):]
	}
	return false
}

func oomKills(dir string) (uint64, error) {
	ev, err := ReadKeyValues(dir, "memory.events")
	if err != nil {
		return 0, err
	}
	return ev["oom_kill"], nil
}

// populated reads the "populated" key of cgroup.events; true on error so
// that a read failure does not end the watch early.
func populated(dir string) bool {
	s, err := ReadFile(dir, "cgroup.events")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return v != "0"
		}
	}
	return true
}
