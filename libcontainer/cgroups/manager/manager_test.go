package manager

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/fs"
	"github.com/towel-runtime/towel/libcontainer/cgroups/fs2"
	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

func TestNewPicksV1DriverOnV1Host(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("host is cgroup v2")
	}
	m, err := New(&configs.Cgroup{}, "ctr-id", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*fs.Manager); !ok {
		t.Fatalf("got %T, want *fs.Manager", m)
	}
	// An empty cgroupsPath is the container id under our own cgroup.
	own, err := cgroups.OwnCgroups()
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join("/sys/fs/cgroup/memory", own["memory"], "ctr-id")
	if got := m.Path("memory"); got != want {
		t.Fatalf("memory path %q, want %q", got, want)
	}

	l, err := Load(&configs.Cgroup{}, m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if l.Path("memory") != m.Path("memory") {
		t.Fatalf("Load: memory path %q, want %q", l.Path("memory"),
			m.Path("memory"))
	}
}

func TestNewPicksV2DriverOnUnifiedHost(t *testing.T) {
	if !cgrouptest.InCgroup2Namespace() {
		cgrouptest.RunInCgroup2Namespace(t)
		return
	}
	m, err := New(&configs.Cgroup{Path: "/a/b"}, "ctr", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*fs2.Manager); !ok {
		t.Fatalf("got %T, want *fs2.Manager", m)
	}
	if got := m.Path(""); got != "/sys/fs/cgroup/a/b" {
		t.Fatalf("path %q", got)
	}

	// Apply and Destroy through the chosen driver.
	name := fmt.Sprintf("/towel-test-mgr-%d", os.Getpid())
	m, err = New(&configs.Cgroup{Path: name}, "ctr", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/fs/cgroup" + name); err != nil {
		t.Fatal(err)
	}
	l, err := Load(&configs.Cgroup{Path: name}, m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/fs/cgroup" + name); !os.IsNotExist(err) {
		t.Fatalf("cgroup left after Destroy: %v", err)
	}
}

func TestLoadWithoutPathsIsANoOp(t *testing.T) {
	if !cgrouptest.InCgroup2Namespace() {
		cgrouptest.RunInCgroup2Namespace(t)
		return
	}
	m, err := Load(&configs.Cgroup{}, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if pids, err := m.Pids(); err != nil || len(pids) != 0 {
		t.Fatalf("Pids() = %v, %v", pids, err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}
