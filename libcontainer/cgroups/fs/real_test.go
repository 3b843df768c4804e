package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/devices"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// realV1 skips unless the host has a writable v1 memory hierarchy.
func realV1(t *testing.T) {
	t.Helper()
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("host is cgroup v2 (unified): no v1 hierarchies")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create v1 cgroups")
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		t.Skip("no v1 memory hierarchy at /sys/fs/cgroup/memory")
	}
}

// startSleep starts a sleep that the test kills and reaps.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func TestRealV1ApplySetKillDestroy(t *testing.T) {
	realV1(t)
	name := fmt.Sprintf("/towel-test-%d", os.Getpid())
	cfg := &configs.Cgroup{Path: name}
	paths, err := Paths(cfg, "unused")
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(cfg, paths, false)
	t.Cleanup(func() { _ = m.Destroy() })

	cmd := startSleep(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	mem := m.Path("memory")
	if mem != "/sys/fs/cgroup/memory"+name {
		t.Fatalf("memory path %q", mem)
	}
	procs, err := os.ReadFile(mem + "/cgroup.procs")
	if err != nil || strings.TrimSpace(string(procs)) !=
		fmt.Sprint(cmd.Process.Pid) {
		t.Fatalf("cgroup.procs = %q, %v", procs, err)
	}

	limit := int64(64 << 20)
	err = m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit},
		Pids:   &specs.LinuxPids{Limit: 50},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cgroups.ReadUint(mem, "memory.limit_in_bytes")
	if err != nil || got != uint64(limit) {
		t.Fatalf("memory.limit_in_bytes = %d, %v; want %d", got, err, limit)
	}
	stats, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Memory.Usage.Limit != uint64(limit) || stats.Pids.Current != 1 ||
		stats.Pids.Limit != 50 {
		t.Fatalf("stats: memory limit %d, pids %+v", stats.Memory.Usage.Limit,
			stats.Pids)
	}

	if err := m.Freeze(true); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() = %v, %v after Freeze(true)", frozen, err)
	}
	if err := m.Freeze(false); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() = %v, %v after Freeze(false)", frozen, err)
	}

	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("sleep not killed by Kill")
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for name, dir := range m.Paths() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s: %s left after Destroy", name, dir)
		}
	}
}

func TestRealV1DevicesDenyThenAllowOnUpdate(t *testing.T) {
	realV1(t)
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse to test with")
	}
	own, err := cgroups.OwnCgroups()
	if err != nil {
		t.Fatal(err)
	}
	h, ok := cgroups.FindHierarchy(mustHierarchies(t), "devices")
	if !ok {
		t.Skip("no v1 devices hierarchy")
	}
	home := h.Mountpoint + own["devices"]
	dir := fmt.Sprintf("%s/towel-test-dev-%d", h.Mountpoint, os.Getpid())
	m := NewManager(&configs.Cgroup{Path: "/x"},
		map[string]string{"devices": dir}, false)
	self := os.Getpid()
	t.Cleanup(func() {
		_ = cgroups.WriteProcs(home, self)
		_ = m.Destroy()
	})
	// The test process itself goes in, so its own opens are filtered.
	if err := m.Apply(self); err != nil {
		t.Fatal(err)
	}
	base := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	base = append(base, devices.DefaultAllowRules()...)
	if err := m.Set(&specs.LinuxResources{Devices: base}); err != nil {
		t.Fatal(err)
	}
	if canOpen(t, "/dev/fuse") {
		t.Fatal("/dev/fuse opened under the default rules")
	}
	if !canOpen(t, "/dev/null") {
		t.Fatal("/dev/null refused under the default rules")
	}

	major, minor := int64(10), int64(229)
	fuse := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major,
		Minor: &minor, Access: "rw"}
	if err := m.Set(&specs.LinuxResources{
		Devices: append(base, fuse)}); err != nil {
		t.Fatal(err)
	}
	if !canOpen(t, "/dev/fuse") {
		t.Fatal("/dev/fuse refused after allowing it")
	}
	list, err := cgroups.ReadFile(dir, "devices.list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, "c 10:229 rw") ||
		!strings.Contains(list, "c 10:200 rwm") {
		t.Fatalf("devices.list:\n%s", list)
	}
}

func mustHierarchies(t *testing.T) []cgroups.Hierarchy {
	t.Helper()
	hs, err := cgroups.V1Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func canOpen(t *testing.T, path string) bool {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EPERM) {
		return false
	}
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	unix.Close(fd)
	return true
}

func TestRealV1NotifyOOM(t *testing.T) {
	realV1(t)
	name := fmt.Sprintf("/towel-test-oom-%d", os.Getpid())
	cfg := &configs.Cgroup{Path: name}
	paths, err := Paths(cfg, "unused")
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(cfg, paths, false)
	t.Cleanup(func() {
		_ = m.Kill()
		_ = m.Destroy()
	})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	limit := int64(16 << 20)
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: &limit, Swap: &limit}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := cgroups.NotifyOOM(ctx, m)
	if err != nil {
		t.Fatal(err)
	}

	// dd fills a 64 MiB buffer, four times the limit, once the shell is
	// in the cgroup and reads a line.
	cmd := exec.Command("sh", "-c",
		"read go; exec dd if=/dev/zero of=/dev/null bs=64M count=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal(err)
	}
	_, _ = stdin.Write([]byte("go\n"))
	_ = cmd.Wait()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("channel closed without an OOM notice")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM notice")
	}
	stats, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Memory.Events["oom_kill"] == 0 {
		t.Errorf("stats report no oom_kill: %v", stats.Memory.Events)
	}
}

func TestRealV1CheckUnused(t *testing.T) {
	realV1(t)
	name := fmt.Sprintf("/towel-test-used-%d", os.Getpid())
	cfg := &configs.Cgroup{Path: name}
	paths, err := Paths(cfg, "unused")
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(cfg, paths, false)
	t.Cleanup(func() {
		_ = m.Freeze(false)
		_ = m.Kill()
		_ = m.Destroy()
	})
	if err := cgroups.CheckUnused(m); err != nil {
		t.Fatalf("cgroup that does not exist: %v", err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if err := cgroups.CheckUnused(m); err != nil {
		t.Fatalf("empty cgroup: %v", err)
	}
	if err := m.Freeze(true); err != nil {
		t.Fatal(err)
	}
	if err := cgroups.CheckUnused(m); !errors.Is(err, cgroups.ErrFrozen) {
		t.Fatalf("frozen cgroup: got %v, want ErrFrozen", err)
	}
	if err := m.Freeze(false); err != nil {
		t.Fatal(err)
	}
	cmd := startSleep(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := cgroups.CheckUnused(m); !errors.Is(err, cgroups.ErrNotEmpty) {
		t.Fatalf("cgroup with a process: got %v, want ErrNotEmpty", err)
	}
}

func TestRealHybridHugetlbGoesToUnifiedHierarchy(t *testing.T) {
	realV1(t)
	if !cgroups.IsCgroup2HybridMode() {
		t.Skip("no cgroup2 at /sys/fs/cgroup/unified (not a hybrid host)")
	}
	hs := mustHierarchies(t)
	if _, ok := cgroups.FindHierarchy(hs, "hugetlb"); ok {
		t.Skip("hugetlb is a v1 hierarchy here")
	}
	ctls, _ := cgroups.ReadFile(hybridMountpoint, "cgroup.controllers")
	if !containsWord(ctls, "hugetlb") {
		t.Skip("hugetlb is in neither v1 nor the unified hierarchy")
	}
	name := fmt.Sprintf("/towel-test-huge-%d", os.Getpid())
	cfg := &configs.Cgroup{Path: name}
	paths, err := Paths(cfg, "unused")
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(cfg, paths, false)
	t.Cleanup(func() { _ = m.Destroy() })
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	size := cgroups.HugePageSizeName(2 << 20)
	err = m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
		{Pagesize: size, Limit: 4 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cgroups.ReadUint(m.Path(""), "hugetlb."+size+".max")
	if err != nil || got != 4<<20 {
		t.Fatalf("hugetlb.%s.max = %d, %v; want %d", size, got, err, 4<<20)
	}
	if _, err := m.Stats(); err != nil {
		t.Fatal(err)
	}
}

func TestRealV1KillWithoutCgroupKillFreezesAndSignals(t *testing.T) {
	realV1(t)
	name := fmt.Sprintf("/towel-test-kill-%d", os.Getpid())
	cfg := &configs.Cgroup{Path: name}
	paths, err := Paths(cfg, "unused")
	if err != nil {
		t.Fatal(err)
	}
	// Without the hybrid cgroup2 directory there is no cgroup.kill.
	delete(paths, "")
	m := NewManager(cfg, paths, false)
	t.Cleanup(func() { _ = m.Destroy() })

	cmds := []*exec.Cmd{startSleep(t), startSleep(t)}
	for _, c := range cmds {
		if err := m.Apply(c.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("sleep not killed by Kill")
		}
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() = %v, %v after Kill; want thawed", frozen, err)
	}
}
