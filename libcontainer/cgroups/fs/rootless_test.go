package fs

import (
	"errors"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// rootlessPaths returns a pids hierarchy that can be written and a memory
// one that cannot.
func rootlessPaths(t *testing.T) map[string]string {
	root := t.TempDir()
	pids := filepath.Join(root, "pids", "ctr")
	cgrouptest.WriteFiles(t, pids, map[string]string{"cgroup.procs": "",
		"pids.max": "max"})
	locked := filepath.Join(root, "memory")
	cgrouptest.WriteFiles(t, locked, map[string]string{"cgroup.procs": ""})
	cgrouptest.Unwritable(t, locked)
	return map[string]string{"pids": pids,
		"memory": filepath.Join(locked, "ctr")}
}

func TestRootlessApplySkipsUnwritableHierarchy(t *testing.T) {
	m := NewManager(&configs.Cgroup{}, rootlessPaths(t), true)
	if err := m.Apply(77); err != nil {
		t.Fatalf("rootless Apply: %v", err)
	}
	if _, ok := m.Paths()["memory"]; ok {
		t.Fatal("unwritable memory hierarchy still in Paths()")
	}
	cgrouptest.Expect(t, m.Path("pids"), map[string]string{"cgroup.procs": "77"})

	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 8}})
	if err != nil {
		t.Fatal(err)
	}
	lim := int64(1 << 20)
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim}})
	if !errors.Is(err, cgroups.ErrNoCgroup) {
		t.Fatalf("memory limit without a memory cgroup: got %v", err)
	}
}

func TestApplyFailsOnUnwritableHierarchyUnlessRootless(t *testing.T) {
	for _, tc := range []struct {
		name     string
		path     string
		rootless bool
	}{
		{"not rootless", "", false},
		{"rootless with explicit cgroupsPath", "/ctr", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewManager(&configs.Cgroup{Path: tc.path},
				rootlessPaths(t), tc.rootless)
			if err := m.Apply(77); err == nil {
				t.Fatal("Apply on an unwritable hierarchy: no error")
			}
		})
	}
}

// A rootless container that could not join the devices hierarchy still
// starts: its device rules are best effort, as in runc.
func TestRootlessSetSkipsDeviceRulesWithoutDevicesCgroup(t *testing.T) {
	m := NewManager(&configs.Cgroup{}, rootlessPaths(t), true)
	if err := m.Apply(77); err != nil {
		t.Fatalf("rootless Apply: %v", err)
	}
	major := int64(1)
	rules := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &major, Access: "rwm"},
	}}
	if err := m.Set(rules); err != nil {
		t.Fatalf("rootless Set of device rules: %v", err)
	}

	m = NewManager(&configs.Cgroup{}, rootlessPaths(t), false)
	delete(m.paths, "memory")
	if err := m.Set(rules); !errors.Is(err, cgroups.ErrNoCgroup) {
		t.Fatalf("device rules without a devices cgroup: got %v", err)
	}
}
