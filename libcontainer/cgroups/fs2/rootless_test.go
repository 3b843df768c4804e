package fs2

import (
	"errors"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

func undelegated(t *testing.T) (root, dir string) {
	root = cgrouptest.FakeDir(t, map[string]string{
		"cgroup.controllers": "", "cgroup.subtree_control": ""})
	cgrouptest.Unwritable(t, root)
	return root, filepath.Join(root, "ctr")
}

func TestRootlessWithoutDelegationRunsWithoutCgroup(t *testing.T) {
	root, dir := undelegated(t)
	m := NewManager(&configs.Cgroup{}, root, dir, true)
	if err := m.Apply(77); err != nil {
		t.Fatalf("rootless Apply: %v", err)
	}
	if p := m.Paths(); len(p) != 0 {
		t.Fatalf("Paths() = %v, want none", p)
	}
	for name, op := range map[string]func() error{
		"Kill": m.Kill, "Destroy": m.Destroy,
		"Set(nothing)": func() error { return m.Set(&specs.LinuxResources{}) },
	} {
		if err := op(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 3}})
	if !errors.Is(err, cgroups.ErrNoCgroup) {
		t.Fatalf("limit without cgroup: got %v", err)
	}
}

func TestRootlessWithLimitsNeedsDelegation(t *testing.T) {
	root, dir := undelegated(t)
	cfg := &configs.Cgroup{Resources: &specs.LinuxResources{
		Pids: &specs.LinuxPids{Limit: 3}}}
	if err := NewManager(cfg, root, dir, true).Apply(77); err == nil {
		t.Fatal("rootless with limits and no delegation: no error")
	}
	if err := NewManager(&configs.Cgroup{}, root, dir, false).Apply(77); err == nil {
		t.Fatal("not rootless, unwritable cgroup: no error")
	}
}

// A subtree delegated to the user below a root it may not change: the
// container's cgroup is made in the subtree, as on a systemd host's
// user@.service or a delegated container manager.
func TestRootlessUsesDelegatedSubtree(t *testing.T) {
	root := cgrouptest.FakeDir(t, map[string]string{
		"cgroup.controllers": "pids", "cgroup.subtree_control": "",
		"deleg/cgroup.controllers":     "pids",
		"deleg/cgroup.subtree_control": "",
		"deleg/ctr/cgroup.procs":       "",
	})
	cgrouptest.Unwritable(t, filepath.Join(root, "cgroup.subtree_control"))
	dir := filepath.Join(root, "deleg", "ctr")
	m := NewManager(&configs.Cgroup{}, root, dir, true)
	if err := m.Apply(77); err != nil {
		t.Fatalf("rootless Apply in a delegated subtree: %v", err)
	}
	if got := m.Paths()[""]; got != dir {
		t.Fatalf("Paths() = %v, want the delegated %s", m.Paths(), dir)
	}
	cgrouptest.Expect(t, dir, map[string]string{"cgroup.procs": "77"})
	cgrouptest.Expect(t, filepath.Join(root, "deleg"),
		map[string]string{"cgroup.subtree_control": "+pids"})
}
