package fs2

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// realManager makes a manager for a fresh cgroup under the cgroup2 mount
// of the private namespace, removed when the test ends.
func realManager(t *testing.T) *Manager {
	t.Helper()
	if !cgroups.IsCgroup2UnifiedMode() {
		t.Fatal("not in a cgroup2 namespace")
	}
	name := fmt.Sprintf("/towel-test-%d", os.Getpid())
	cfg := &configs.Cgroup{Path: name}
	dir, err := DirPath(cgroups.UnifiedMountpoint, cfg, "unused", "/")
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(cfg, cgroups.UnifiedMountpoint, dir, false)
	t.Cleanup(func() {
		_ = m.Kill()
		_ = m.Destroy()
	})
	return m
}

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

func TestRealV2KillWithoutCgroupKillFreezesAndSignals(t *testing.T) {
	if !cgrouptest.InCgroup2Namespace() {
		cgrouptest.RunInCgroup2Namespace(t)
		return
	}
	killFile = "cgroup.kill-as-before-linux-5.14"
	defer func() { killFile = "cgroup.kill" }()

	m := realManager(t)
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

func TestRealV2ApplyFreezeKillDestroy(t *testing.T) {
	if !cgrouptest.InCgroup2Namespace() {
		cgrouptest.RunInCgroup2Namespace(t)
		return
	}
	m := realManager(t)
	cmd := startSleep(t)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	pids, err := m.Pids()
	if err != nil || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("Pids() = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
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

	stats, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Pids.Current != 1 {
		t.Errorf("stats pids.current = %d, want 1", stats.Pids.Current)
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
	if _, err := os.Stat(m.dir); err == nil {
		t.Fatalf("%s left after Destroy", m.dir)
	}
}

func TestRealV2HugetlbAndUnified(t *testing.T) {
	if !cgrouptest.InCgroup2Namespace() {
		cgrouptest.RunInCgroup2Namespace(t)
		return
	}
	ctls, err := cgroups.ReadFile(cgroups.UnifiedMountpoint, "cgroup.controllers")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ctls, "hugetlb") {
		t.Skip("hugetlb is not a cgroup2 controller on this host")
	}
	m := realManager(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	size := cgroups.HugePageSizeName(2 << 20)
	err = m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
		{Pagesize: size, Limit: 8 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{".max", ".rsvd.max"} {
		got, err := cgroups.ReadUint(m.dir, "hugetlb."+size+f)
		if err != nil || got != 8<<20 {
			t.Errorf("hugetlb.%s%s = %d, %v", size, f, got, err)
		}
	}

	err = m.Set(&specs.LinuxResources{Unified: map[string]string{
		"hugetlb." + size + ".max": "2097152"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := cgroups.ReadUint(m.dir, "hugetlb."+size+".max"); got != 2<<20 {
		t.Errorf("unified hugetlb max = %d", got)
	}

	// memory is bound to a v1 hierarchy on this host, so not enabled here.
	if strings.Contains(ctls, "memory") {
		return
	}
	err = m.Set(&specs.LinuxResources{Unified: map[string]string{
		"memory.max": "1000000"}})
	if err == nil || !strings.Contains(err.Error(), `controller "memory" is not enabled`) {
		t.Fatalf("unified key of a disabled controller: got %v", err)
	}
}
