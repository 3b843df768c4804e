package cgroups

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dirManager is a Manager whose only working method is Path.
type dirManager struct {
	Manager
	dir string
}

func (m dirManager) Path(string) string { return m.dir }

func write(t *testing.T, dir, file, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNotifyOOMv2ReportsKillsAndClosesWhenEmpty(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
	write(t, dir, "cgroup.events", "populated 1\nfrozen 0\n")

	ch, err := NotifyOOM(context.Background(), dirManager{dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("channel closed instead of reporting the OOM kill")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notice after oom_kill went up")
	}

	write(t, dir, "cgroup.events", "populated 0\nfrozen 0\n")
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("notice without a new OOM kill")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed when the cgroup emptied")
	}
}

func TestNotifyOOMStopsWithContext(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "memory.events", "oom_kill 0\n")
	write(t, dir, "cgroup.events", "populated 1\n")
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := NotifyOOM(ctx, dirManager{dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}
