package intelrdt

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeResctrl makes a directory laid out like a resctrl mount of a host
// with L3 allocation, memory bandwidth allocation and both kinds of
// monitoring, two L3 domains, and makes mkdir behave like resctrl's
// (a new group comes with its files).
func fakeResctrl(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, map[string]string{
		"info/L3/cbm_mask":                 "fff\n",
		"info/L3/min_cbm_bits":             "1\n",
		"info/L3/num_closids":              "16\n",
		"info/MB/bandwidth_gran":           "10\n",
		"info/MB/delay_linear":             "1\n",
		"info/MB/min_bandwidth":            "10\n",
		"info/MB/num_closids":              "8\n",
		"info/L3_MON/mon_features":         "llc_occupancy\nmbm_total_bytes\nmbm_local_bytes\n",
		"info/last_cmd_status":             "ok\n",
		"schemata":                         "    L3:0=fff;1=fff\n    MB:0=100;1=100\n",
		"tasks":                            "1\n",
		"mon_data/mon_L3_00/llc_occupancy": "0\n",
	})
	old := mkdir
	mkdir = func(dir string, perm os.FileMode) error {
		if err := os.Mkdir(dir, perm); err != nil {
			return err
		}
		files := map[string]string{"tasks": ""}
		if filepath.Base(filepath.Dir(dir)) != "mon_groups" {
			files["schemata"] = "    L3:0=fff;1=fff\n    MB:0=100;1=100\n"
			files["mon_groups/.keep"] = ""
		}
		write(t, dir, files)
		return nil
	}
	t.Cleanup(func() { mkdir = old })
	return root
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, elem ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func exists(elem ...string) bool {
	_, err := os.Stat(filepath.Join(elem...))
	return err == nil
}

func TestApplyCreatesGroupNamedByContainerID(t *testing.T) {
	root := fakeResctrl(t)
	m, err := NewAt(root, &specs.LinuxIntelRdt{
		L3CacheSchema: "L3:0=f0;1=f",
		MemBwSchema:   "MB:0=50;1=70",
	}, "ct1")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(1234); err != nil {
		t.Fatal(err)
	}
	if m.Path() != filepath.Join(root, "ct1") {
		t.Errorf("path %s, want the container id under the root", m.Path())
	}
	if got, want := read(t, root, "ct1", "schemata"),
		"L3:0=f0;1=f\nMB:0=50;1=70\n"; got != want {
		t.Errorf("schemata = %q, want %q", got, want)
	}
	if got := read(t, root, "ct1", "tasks"); got != "1234" {
		t.Errorf("tasks = %q, want 1234", got)
	}

	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if exists(root, "ct1") {
		t.Error("Destroy left the container's own group")
	}
}

func TestApplyWithOnlyMonitoringMakesAnEmptyGroup(t *testing.T) {
	root := fakeResctrl(t)
	m, err := NewAt(root, &specs.LinuxIntelRdt{EnableCMT: true}, "ct1")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(7); err != nil {
		t.Fatal(err)
	}
	// No schema: the kernel's defaults stay.
	if got := read(t, root, "ct1", "schemata"); !strings.Contains(got,
		"L3:0=fff;1=fff") {
		t.Errorf("schemata rewritten: %q", got)
	}
	if got := read(t, root, "ct1", "tasks"); got != "7" {
		t.Errorf("tasks = %q", got)
	}
	if exists(root, "ct1", "mon_groups", "ct1") {
		t.Error("a group of its own needs no monitoring group")
	}
}

func TestClosIDWithoutSchemaMustExist(t *testing.T) {
	root := fakeResctrl(t)
	m, err := NewAt(root, &specs.LinuxIntelRdt{ClosID: "gold"}, "ct1")
	if err != nil {
		t.Fatal(err)
	}
	err = m.Apply(1)
	if err == nil || !strings.Contains(err.Error(), `closID "gold"`) {
		t.Fatalf("Apply = %v, want an error naming the closID", err)
	}
	if exists(root, "gold") {
		t.Error("Apply created a closID group the config did not define")
	}
}

func TestClosIDGroupIsJoinedAndKept(t *testing.T) {
	root := fakeResctrl(t)
	if err := mkdir(filepath.Join(root, "gold"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, root, map[string]string{"gold/schemata": "L3:0=0ff;1=ff0\n"})

	m, err := NewAt(root, &specs.LinuxIntelRdt{ClosID: "gold"}, "ct1")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(42); err != nil {
		t.Fatal(err)
	}
	if got := read(t, root, "gold", "tasks"); got != "42" {
		t.Errorf("tasks = %q", got)
	}
	if got := read(t, root, "gold", "schemata"); got != "L3:0=0ff;1=ff0\n" {
		t.Errorf("the shared group's schemata were rewritten: %q", got)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if !exists(root, "gold") {
		t.Error("Destroy removed a closID group others may share")
	}
}

func TestClosIDIsCreatedWithItsSchema(t *testing.T) {
	root := fakeResctrl(t)
	m, err := NewAt(root, &specs.LinuxIntelRdt{ClosID: "silver",
		L3CacheSchema: "L3:0=3;1=3"}, "ct1")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(5); err != nil {
		t.Fatal(err)
	}
	if got := read(t, root, "silver", "schemata"); got != "L3:0=3;1=3\n" {
		t.Errorf("schemata = %q", got)
	}
}

func TestExistingClosIDSchemaIsCompared(t *testing.T) {
	tests := []struct {
		name     string
		l3, mb   string
		existing string
		wantErr  string
	}{
		{"same values printed the kernel's way", "L3:0=00ff;1=f00",
			"", "    L3:0=ff;1=f00\n    MB:0=100;1=100\n", ""},
		{"a subset of domains", "L3:1=f00", "MB:0=100",
			"L3:0=ff;1=f00\nMB:0=100;1=100\n", ""},
		{"other cache mask", "L3:0=f;1=f00", "",
			"L3:0=ff;1=f00\n", "L3 domain 0 is ff, the config wants f"},
		{"other bandwidth", "", "MB:0=50",
			"L3:0=ff\nMB:0=100\n", "MB domain 0 is 100, the config wants 50"},
		{"missing resource", "", "MB:0=100",
			"L3:0=ff\n", "no MB line"},
		{"missing domain", "L3:2=f", "",
			"L3:0=ff;1=ff\n", "no L3 domain 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeResctrl(t)
			if err := mkdir(filepath.Join(root, "gold"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, root, map[string]string{"gold/schemata": tc.existing})
			m, err := NewAt(root, &specs.LinuxIntelRdt{ClosID: "gold",
				L3CacheSchema: tc.l3, MemBwSchema: tc.mb}, "ct1")
			if err != nil {
				t.Fatal(err)
			}
			err = m.Apply(9)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if got := read(t, root, "gold", "tasks"); got != "9" {
					t.Errorf("tasks = %q", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Apply = %v, want an error with %q", err,
					tc.wantErr)
			}
			if got := read(t, root, "gold", "tasks"); got != "" {
				t.Errorf("pid written despite the mismatch: %q", got)
			}
			if got := read(t, root, "gold", "schemata"); got != tc.existing {
				t.Errorf("schemata changed to %q", got)
			}
		})
	}
}

func TestMonitoringInSharedGroupGetsItsOwnGroup(t *testing.T) {
	root := fakeResctrl(t)
	if err := mkdir(filepath.Join(root, "gold"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, root, map[string]string{
		"gold/mon_groups/ct1/mon_data/mon_L3_00/mbm_total_bytes": "",
	})
	if err := os.RemoveAll(filepath.Join(root, "gold", "mon_groups",
		"ct1")); err != nil {
		t.Fatal(err)
	}
	m, err := NewAt(root, &specs.LinuxIntelRdt{ClosID: "gold",
		EnableMBM: true}, "ct1")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(11); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"gold", "gold/mon_groups/ct1"} {
		if got := read(t, root, dir, "tasks"); got != "11" {
			t.Errorf("%s/tasks = %q, want 11", dir, got)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if exists(root, "gold", "mon_groups", "ct1") {
		t.Error("Destroy left the container's monitoring group")
	}
	if !exists(root, "gold") {
		t.Error("Destroy removed the shared group")
	}
}

func TestFailedApplyRemovesWhatItCreated(t *testing.T) {
	root := fakeResctrl(t)
	// resctrl refuses the pid; its reason is in last_cmd_status.
	old := mkdir
	mkdir = func(dir string, perm os.FileMode) error {
		if err := old(dir, perm); err != nil {
			return err
		}
		return os.Remove(filepath.Join(dir, "tasks"))
	}
	write(t, root, map[string]string{
		"info/last_cmd_status": "No task 99999999\n",
	})
	m, err := NewAt(root, &specs.LinuxIntelRdt{L3CacheSchema: "L3:0=1"},
		"ct1")
	if err != nil {
		t.Fatal(err)
	}
	err = m.Apply(99999999)
	if err == nil || !strings.Contains(err.Error(), "No task 99999999") {
		t.Fatalf("Apply = %v, want the kernel's reason", err)
	}
	if exists(root, "ct1") {
		t.Error("failed Apply left its group")
	}
}

func TestBadConfigIsRefusedBeforeAnythingIsCreated(t *testing.T) {
	tests := []struct {
		name    string
		cfg     specs.LinuxIntelRdt
		id      string
		wantErr string
	}{
		{"closID with a slash", specs.LinuxIntelRdt{ClosID: "a/b"},
			"ct", `invalid closID "a/b"`},
		{"closID dot dot", specs.LinuxIntelRdt{ClosID: ".."},
			"ct", `invalid closID ".."`},
		{"closID of resctrl's own", specs.LinuxIntelRdt{ClosID: "info"},
			"ct", "reserved"},
		{"container id that is resctrl's own", specs.LinuxIntelRdt{},
			"mon_groups", "reserved"},
		{"schema without a resource",
			specs.LinuxIntelRdt{L3CacheSchema: "0=ff"}, "ct",
			"want RESOURCE:id=value"},
		{"schema with a bad domain",
			specs.LinuxIntelRdt{L3CacheSchema: "L3:0"}, "ct",
			"want id=value"},
		{"bandwidth in the cache field",
			specs.LinuxIntelRdt{L3CacheSchema: "MB:0=50"}, "ct",
			`resource "MB" is not an L3 resource`},
		{"cache in the bandwidth field",
			specs.LinuxIntelRdt{MemBwSchema: "L3:0=f"}, "ct",
			`resource "L3" is not an MB resource`},
		{"resource the host lacks",
			specs.LinuxIntelRdt{L3CacheSchema: "L3CODE:0=f"}, "ct",
			"L3CODE not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeResctrl(t)
			before, _ := os.ReadDir(root)
			_, err := NewAt(root, &tc.cfg, tc.id)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewAt = %v, want an error with %q", err,
					tc.wantErr)
			}
			entries, _ := os.ReadDir(root)
			if len(entries) != len(before) {
				t.Errorf("root changed: %d entries", len(entries))
			}
		})
	}
}

func TestMonitoringTheHostLacksIsRefused(t *testing.T) {
	root := fakeResctrl(t)
	write(t, root, map[string]string{"info/L3_MON/mon_features": "\n"})
	for _, cfg := range []specs.LinuxIntelRdt{{EnableCMT: true},
		{EnableMBM: true}} {
		_, err := NewAt(root, &cfg, "ct")
		if !errors.Is(err, ErrNotSupported) {
			t.Errorf("NewAt(%+v) = %v, want ErrNotSupported", cfg, err)
		}
	}
}

func TestUpdateRewritesSchemata(t *testing.T) {
	root := fakeResctrl(t)
	m, err := NewAt(root, &specs.LinuxIntelRdt{L3CacheSchema: "L3:0=f",
		MemBwSchema: "MB:0=20"}, "ct1")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(3); err != nil {
		t.Fatal(err)
	}
	if err := m.Update("", "MB:0=90"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, root, "ct1", "schemata"); got != "MB:0=90\n" {
		t.Errorf("schemata write = %q, want only the MB line", got)
	}
	cfg := m.Config()
	if cfg.L3CacheSchema != "L3:0=f" || cfg.MemBwSchema != "MB:0=90" {
		t.Errorf("config after update = %+v", cfg)
	}

	if err := m.Update("MB:0=1", ""); err == nil {
		t.Error("Update took a bandwidth schema as the cache schema")
	}
	if got := read(t, root, "ct1", "schemata"); got != "MB:0=90\n" {
		t.Errorf("a refused update wrote %q", got)
	}
	if m.Config().L3CacheSchema != "L3:0=f" {
		t.Error("a refused update changed the config")
	}
}

func TestStats(t *testing.T) {
	root := fakeResctrl(t)
	m, err := NewAt(root, &specs.LinuxIntelRdt{ClosID: "gold",
		L3CacheSchema: "L3:0=f", EnableCMT: true, EnableMBM: true}, "ct1")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(3); err != nil {
		t.Fatal(err)
	}
	write(t, root, map[string]string{
		"gold/schemata": "    L3:0=f;1=fff\n    MB:0=100;1=100\n",
		"gold/mon_groups/ct1/mon_data/mon_L3_00/llc_occupancy":   "4096\n",
		"gold/mon_groups/ct1/mon_data/mon_L3_00/mbm_total_bytes": "100\n",
		"gold/mon_groups/ct1/mon_data/mon_L3_00/mbm_local_bytes": "60\n",
		"gold/mon_groups/ct1/mon_data/mon_L3_01/llc_occupancy":   "8192\n",
		"gold/mon_groups/ct1/mon_data/mon_L3_01/mbm_total_bytes": "Unavailable\n",
		"gold/mon_groups/ct1/mon_data/mon_L3_01/mbm_local_bytes": "7\n",
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"l3_cache_info":{"cbm_mask":"fff","min_cbm_bits":1,` +
		`"num_closids":16},"l3_cache_schema_root":"L3:0=fff;1=fff",` +
		`"l3_cache_schema":"L3:0=f;1=fff","mem_bw_info":` +
		`{"bandwidth_gran":10,"delay_linear":1,"min_bandwidth":10,` +
		`"num_closids":8},"mem_bw_schema_root":"MB:0=100;1=100",` +
		`"mem_bw_schema":"MB:0=100;1=100","mbm_stats":[{"mbm_total_bytes":` +
		`100,"mbm_local_bytes":60},{"mbm_total_bytes":0,` +
		`"mbm_local_bytes":7}],"cmt_stats":[{"llc_occupancy":4096},` +
		`{"llc_occupancy":8192}]}`
	if string(got) != want {
		t.Errorf("stats:\n got %s\nwant %s", got, want)
	}
}

func TestRootIsNotMountedHere(t *testing.T) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("resctrl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) > 0 {
		t.Skip("resctrl is mounted on this host")
	}
	_, err = New(&specs.LinuxIntelRdt{L3CacheSchema: "L3:0=f"}, "ct")
	if !errors.Is(err, ErrNotMounted) {
		t.Fatalf("New = %v, want ErrNotMounted", err)
	}
	if !strings.Contains(err.Error(), "resctrl is not mounted") {
		t.Errorf("error %q does not say what is missing", err)
	}
}
