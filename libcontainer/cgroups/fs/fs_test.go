package fs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func boolp(v bool) *bool   { return &v }

// fakeManager returns a Manager whose hierarchies are fake directories
// under one temp dir, each prepared with files.
func fakeManager(t *testing.T, files map[string]map[string]string) *Manager {
	t.Helper()
	root := t.TempDir()
	paths := make(map[string]string)
	for name, fs := range files {
		dir := filepath.Join(root, name, "ctr")
		cgrouptest.WriteFiles(t, dir, fs)
		paths[name] = dir
	}
	return NewManager(&configs.Cgroup{Path: "/ctr"}, paths, false)
}

func TestSetMemoryWritesLimitReservationAndSwap(t *testing.T) {
	m := fakeManager(t, map[string]map[string]string{"memory": {
		memLimitFile:                 "9223372036854771712",
		memswFile:                    "9223372036854771712",
		"memory.soft_limit_in_bytes": "0",
	}})
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: i64(100 << 20), Reservation: i64(50 << 20),
		Swap: i64(200 << 20),
	}})
	if err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.Path("memory"), map[string]string{
		memLimitFile:                 "104857600",
		memswFile:                    "209715200",
		"memory.soft_limit_in_bytes": "52428800",
	})
}

func TestSetCPUWritesSharesQuotaPeriod(t *testing.T) {
	m := fakeManager(t, map[string]map[string]string{"cpu": {
		"cpu.shares": "1024", "cpu.cfs_quota_us": "-1",
		"cpu.cfs_period_us": "100000",
	}})
	err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{
		Shares: u64(512), Quota: i64(50000), Period: u64(200000),
	}})
	if err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.Path("cpu"), map[string]string{
		"cpu.shares": "512", "cpu.cfs_quota_us": "50000",
		"cpu.cfs_period_us": "200000",
	})
}

func TestSetPidsLimit(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		want  string
	}{{100, "100"}, {-1, "max"}, {0, "untouched"}} {
		m := fakeManager(t, map[string]map[string]string{"pids": {
			"pids.max": "untouched",
		}})
		err := m.Set(&specs.LinuxResources{
			Pids: &specs.LinuxPids{Limit: tc.limit}})
		if err != nil {
			t.Fatal(err)
		}
		cgrouptest.Expect(t, m.Path("pids"),
			map[string]string{"pids.max": tc.want})
	}
}

func TestSetLimitWithoutHierarchyFails(t *testing.T) {
	m := fakeManager(t, map[string]map[string]string{"cpu": {}})
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 10}})
	if !errors.Is(err, cgroups.ErrNoCgroup) {
		t.Fatalf("got %v, want ErrNoCgroup", err)
	}
}

func TestApplyCreatesDirsAndWritesPid(t *testing.T) {
	root := t.TempDir()
	paths := map[string]string{
		"memory": filepath.Join(root, "memory", "a", "b"),
		"pids":   filepath.Join(root, "pids", "a", "b"),
	}
	// cgroupfs provides cgroup.procs in every new directory; a plain
	// directory does not, so provide it up front.
	for _, dir := range paths {
		cgrouptest.WriteFiles(t, dir, map[string]string{"cgroup.procs": ""})
	}
	m := NewManager(&configs.Cgroup{Path: "/a/b"}, paths, false)
	if err := m.Apply(1234); err != nil {
		t.Fatal(err)
	}
	for _, dir := range paths {
		cgrouptest.Expect(t, dir, map[string]string{"cgroup.procs": "1234"})
	}
	pids, err := m.Pids()
	if err != nil || len(pids) != 1 || pids[0] != 1234 {
		t.Fatalf("Pids() = %v, %v; want [1234]", pids, err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range paths {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Destroy: %v", dir, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
}

func TestPathsForAbsoluteAndRelative(t *testing.T) {
	hs := []cgroups.Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/",
			Subsystems: []string{"memory"}},
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/",
			Subsystems: []string{"cpu", "cpuacct"}},
		{Mountpoint: "/sys/fs/cgroup/devices", Root: "/",
			Subsystems: []string{"devices"}},
		{Mountpoint: "/sys/fs/cgroup/pids", Root: "/sub",
			Subsystems: []string{"pids"}},
	}
	own := map[string]string{"memory": "/user/1", "cpu": "/",
		"cpuacct": "/", "devices": "/d", "pids": "/sub/x"}

	abs, err := pathsFor(hs, own, "/a/b")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"memory":  "/sys/fs/cgroup/memory/a/b",
		"cpu":     "/sys/fs/cgroup/cpu,cpuacct/a/b",
		"cpuacct": "/sys/fs/cgroup/cpu,cpuacct/a/b",
		"devices": "/sys/fs/cgroup/devices/a/b",
		"pids":    "/sys/fs/cgroup/pids/a/b",
	}
	for k, v := range want {
		if abs[k] != v {
			t.Errorf("absolute: %s = %q, want %q", k, abs[k], v)
		}
	}

	rel, err := pathsFor(hs, own, "ctr")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{
		"memory":  "/sys/fs/cgroup/memory/user/1/ctr",
		"cpu":     "/sys/fs/cgroup/cpu,cpuacct/ctr",
		"devices": "/sys/fs/cgroup/devices/d/ctr",
		"pids":    "/sys/fs/cgroup/pids/x/ctr",
	}
	for k, v := range want {
		if rel[k] != v {
			t.Errorf("relative: %s = %q, want %q", k, rel[k], v)
		}
	}

	if _, err := pathsFor(hs[:2], own, "ctr"); err == nil {
		t.Error("no devices hierarchy: got no error")
	}
}

func TestInnerPathDefaultsToID(t *testing.T) {
	for _, tc := range []struct{ path, id, want string }{
		{"", "ctr1", "ctr1"},
		{"/x/../../y", "ctr1", "/y"},
		{"a/../../b", "c", "b"},
	} {
		got, err := InnerPath(&configs.Cgroup{Path: tc.path}, tc.id)
		if err != nil || got != tc.want {
			t.Errorf("InnerPath(%q, %q) = %q, %v; want %q",
				tc.path, tc.id, got, err, tc.want)
		}
	}
}
