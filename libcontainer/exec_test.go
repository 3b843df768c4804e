package libcontainer

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

// dirsManager is a cgroup manager over plain directories; only Paths and
// Apply are used by execCgroup.
type dirsManager struct {
	cgroups.Manager
	paths   map[string]string
	applied []int
}

func (m *dirsManager) Paths() map[string]string { return m.paths }

func (m *dirsManager) Apply(pid int) error {
	m.applied = append(m.applied, pid)
	return nil
}

// fakeHierarchies makes a directory per controller, each with a
// cgroup.procs file and a "sub" child that has one too.
func fakeHierarchies(t *testing.T, ctrls ...string) map[string]string {
	t.Helper()
	root := t.TempDir()
	paths := make(map[string]string)
	for _, c := range ctrls {
		dir := filepath.Join(root, c, "ct")
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{dir, filepath.Join(dir, "sub")} {
			err := os.WriteFile(filepath.Join(d, "cgroup.procs"), nil, 0o644)
			if err != nil {
				t.Fatal(err)
			}
		}
		paths[c] = dir
	}
	return paths
}

func procsOf(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestExecCgroupWithoutSubCgroupsUsesTheManager(t *testing.T) {
	mgr := &dirsManager{paths: fakeHierarchies(t, "memory")}
	e, err := newExecCgroup(mgr, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(42); err != nil {
		t.Fatal(err)
	}
	if len(mgr.applied) != 1 || mgr.applied[0] != 42 {
		t.Errorf("manager applied %v, want [42]", mgr.applied)
	}
}

func TestExecCgroupJoinsTheNamedSubCgroups(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("controller-named sub-cgroups are a cgroup v1 form")
	}
	paths := fakeHierarchies(t, "memory", "pids")
	mgr := &dirsManager{paths: paths}
	e, err := newExecCgroup(mgr, map[string]string{"memory": "sub"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(42); err != nil {
		t.Fatal(err)
	}
	if got := procsOf(t, filepath.Join(paths["memory"], "sub")); got != "42" {
		t.Errorf("memory/sub has %q, want 42", got)
	}
	if got := procsOf(t, paths["pids"]); got != "42" {
		t.Errorf("pids has %q, want 42 in the container's own cgroup", got)
	}
	if len(mgr.applied) != 0 {
		t.Errorf("the manager's Apply ran too")
	}
}

func TestExecCgroupSubPathStaysInsideTheContainersCgroup(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("controller-named sub-cgroups are a cgroup v1 form")
	}
	paths := fakeHierarchies(t, "memory")
	e, err := newExecCgroup(&dirsManager{paths: paths},
		map[string]string{"memory": "../../.."}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.dirs) != 1 || e.dirs[0] != paths["memory"] {
		t.Errorf("dirs = %v, want the container's own %s", e.dirs,
			paths["memory"])
	}
}

func TestExecCgroupRefusesMissingSubCgroups(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("controller-named sub-cgroups are a cgroup v1 form")
	}
	paths := fakeHierarchies(t, "memory")
	for _, subs := range []map[string]string{
		{"memory": "nosuch"},
		{"": "nosuch"},
		{"cpu": "sub"},
	} {
		_, err := newExecCgroup(&dirsManager{paths: paths}, subs, 1)
		if err == nil {
			t.Errorf("%v: no error", subs)
		}
	}
}

func TestExecCgroupForEveryController(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("this test lays out v1 hierarchies")
	}
	paths := fakeHierarchies(t, "memory", "pids")
	e, err := newExecCgroup(&dirsManager{paths: paths},
		map[string]string{"": "sub"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]string(nil), e.dirs...)
	sort.Strings(got)
	want := []string{filepath.Join(paths["memory"], "sub"),
		filepath.Join(paths["pids"], "sub")}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("dirs = %v, want %v", got, want)
	}
}
