package fs2

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }

func fakeManager(t *testing.T, files map[string]string) *Manager {
	t.Helper()
	dir := cgrouptest.FakeDir(t, files)
	return NewManager(&configs.Cgroup{Path: "/ctr"}, "/sys/fs/cgroup", dir,
		false)
}

func TestSetMemoryConvertsSwap(t *testing.T) {
	for _, tc := range []struct {
		name              string
		limit, swap, resv *int64
		wantMax, wantSwap string
		wantLow           string
	}{
		{"limit and swap", i64(100), i64(300), i64(50), "100", "200", "50"},
		{"unlimited memory lifts swap", i64(-1), nil, nil, "max", "max", "-"},
		{"unlimited swap", i64(100), i64(-1), nil, "100", "max", "-"},
		{"swap equal to limit means no swap", i64(100), i64(100), nil,
			"100", "0", "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeManager(t, map[string]string{"memory.max": "-",
				"memory.swap.max": "-", "memory.low": "-"})
			err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: tc.limit, Swap: tc.swap, Reservation: tc.resv}})
			if err != nil {
				t.Fatal(err)
			}
			cgrouptest.Expect(t, m.dir, map[string]string{
				"memory.max": tc.wantMax, "memory.swap.max": tc.wantSwap,
				"memory.low": tc.wantLow})
		})
	}
}

func TestSetMemorySwapBelowLimitFails(t *testing.T) {
	m := fakeManager(t, map[string]string{"memory.max": "-",
		"memory.swap.max": "-"})
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: i64(200), Swap: i64(100)}})
	if err == nil {
		t.Fatal("swap < limit: no error")
	}
	cgrouptest.Expect(t, m.dir, map[string]string{"memory.max": "-",
		"memory.swap.max": "-"})
}

func TestSetCPUConvertsShares(t *testing.T) {
	m := fakeManager(t, map[string]string{"cpu.weight": "-",
		"cpu.max": "max 100000"})
	err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{
		Shares: u64(1024), Quota: i64(50000), Period: u64(100000)}})
	if err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.dir, map[string]string{"cpu.weight": "39",
		"cpu.max": "50000 100000"})
}

func TestSetCPUPeriodOnlyKeepsQuota(t *testing.T) {
	m := fakeManager(t, map[string]string{"cpu.max": "20000 100000"})
	err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{
		Period: u64(50000)}})
	if err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.dir, map[string]string{"cpu.max": "20000 50000"})
}

func TestSetPidsMax(t *testing.T) {
	m := fakeManager(t, map[string]string{"pids.max": "max"})
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 42}})
	if err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.dir, map[string]string{"pids.max": "42"})
}

func TestSkippedManagerRefusesLimits(t *testing.T) {
	m := NewManager(&configs.Cgroup{}, "/sys/fs/cgroup", "", true)
	if err := m.Set(&specs.LinuxResources{}); err != nil {
		t.Fatalf("no limits: %v", err)
	}
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 1}})
	if !errors.Is(err, cgroups.ErrNoCgroup) {
		t.Fatalf("got %v, want ErrNoCgroup", err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if len(m.Paths()) != 0 {
		t.Fatalf("Paths() = %v, want none", m.Paths())
	}
}

func TestDirPath(t *testing.T) {
	for _, tc := range []struct{ path, id, own, want string }{
		{"/a/b", "x", "/user.slice/u", "/sys/fs/cgroup/a/b"},
		{"a/b", "x", "/user.slice/u", "/sys/fs/cgroup/user.slice/a/b"},
		{"", "ctr", "/", "/sys/fs/cgroup/ctr"},
		{"../../etc", "x", "/", "/sys/fs/cgroup/etc"},
	} {
		got, err := DirPath("/sys/fs/cgroup", &configs.Cgroup{Path: tc.path},
			tc.id, tc.own)
		if err != nil || got != tc.want {
			t.Errorf("DirPath(%q, %q, %q) = %q, %v; want %q", tc.path,
				tc.id, tc.own, got, err, tc.want)
		}
	}
}
