package systemd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path     string
		rootless bool
		want     Unit
		rel      string
	}{
		{"", false, Unit{"system.slice", "runc-ctr.scope"},
			"/system.slice/runc-ctr.scope"},
		{"", true, Unit{"user.slice", "runc-ctr.scope"},
			"/user.slice/runc-ctr.scope"},
		{"machine-a.slice:docker:abc", false,
			Unit{"machine-a.slice", "docker-abc.scope"},
			"/machine.slice/machine-a.slice/docker-abc.scope"},
		{":cri:x", false, Unit{"system.slice", "cri-x.scope"},
			"/system.slice/cri-x.scope"},
		{"system.slice::x", false, Unit{"system.slice", "x.scope"},
			"/system.slice/x.scope"},
		{"system.slice:p:k8s-pod.slice", false,
			Unit{"system.slice", "k8s-pod.slice"}, "/k8s.slice/k8s-pod.slice"},
	} {
		got, err := ParsePath(tc.path, "ctr", tc.rootless)
		if err != nil || got != tc.want {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v", tc.path, got,
				err, tc.want)
			continue
		}
		if rel := got.RelPath(); rel != tc.rel {
			t.Errorf("%q: RelPath() = %q, want %q", tc.path, rel, tc.rel)
		}
	}
	for _, bad := range []string{"a:b", "a:b:c:d", "bad:p:n", "a--b.slice:p:n",
		"system.slice:p:", "system.slice:p:x/y"} {
		if _, err := ParsePath(bad, "ctr", false); err == nil {
			t.Errorf("ParsePath(%q): no error", bad)
		}
	}
}

// props turns properties into a name -> value map; a repeated name keeps
// its last value.
func props(ps []sd.Property) map[string]any {
	m := make(map[string]any)
	for _, p := range ps {
		m[p.Name] = p.Value.Value()
	}
	return m
}

func TestResourcePropertiesV2(t *testing.T) {
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(1000), Reservation: i64(500),
			Swap: i64(3000)},
		CPU: &specs.LinuxCPU{Shares: u64(1024), Quota: i64(25000),
			Period: u64(100000), Cpus: "0-2,9", Mems: "1"},
		Pids:    &specs.LinuxPids{Limit: 64},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(1000)},
	}
	got, err := resourceProperties(r, true, 252)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"MemoryMax":          uint64(1000),
		"MemoryLow":          uint64(500),
		"MemorySwapMax":      uint64(2000),
		"CPUWeight":          uint64(39),
		"CPUQuotaPerSecUSec": uint64(250000),
		"CPUQuotaPeriodUSec": uint64(100000),
		"AllowedCPUs":        []byte{0x07, 0x02},
		"AllowedMemoryNodes": []byte{0x02},
		"TasksMax":           uint64(64),
		"IOWeight":           uint64(10000),
	}
	if g := props(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("got  %v\nwant %v", g, want)
	}
}

func TestResourcePropertiesV1(t *testing.T) {
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(-1)},
		CPU:     &specs.LinuxCPU{Shares: u64(512), Quota: i64(-1)},
		Pids:    &specs.LinuxPids{Limit: -1},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(300)},
	}
	got, err := resourceProperties(r, false, 239)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"MemoryLimit":        infinity,
		"CPUShares":          uint64(512),
		"CPUQuotaPerSecUSec": infinity,
		"TasksMax":           infinity,
		"BlockIOWeight":      uint64(300),
	}
	if g := props(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("got  %v\nwant %v", g, want)
	}
}

func TestCPUQuotaRoundsUpToTenMilliseconds(t *testing.T) {
	got, err := resourceProperties(&specs.LinuxResources{CPU: &specs.LinuxCPU{
		Quota: i64(1234), Period: u64(100000)}}, true, 252)
	if err != nil {
		t.Fatal(err)
	}
	if v := props(got)["CPUQuotaPerSecUSec"]; v != uint64(20000) {
		t.Fatalf("CPUQuotaPerSecUSec = %v, want 20000", v)
	}
}

func TestCPUIdleIsWeightZeroFrom252(t *testing.T) {
	r := &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1),
		Shares: u64(1024)}}
	got, _ := resourceProperties(r, true, 252)
	if v := props(got)["CPUWeight"]; v != uint64(0) {
		t.Fatalf("systemd 252: CPUWeight = %v, want 0 (idle)", v)
	}
	got, _ = resourceProperties(r, true, 251)
	if _, ok := props(got)["CPUWeight"]; ok {
		t.Fatal("systemd 251: CPUWeight set; idle must go to cpu.idle")
	}
}

func TestDevicePropertiesUseMajorWildcardSyntax(t *testing.T) {
	major := func(v int64) *int64 { return &v }
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: major(1), Minor: major(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: major(136), Access: "rw"},
		{Allow: true, Type: "b", Access: "m"},
		{Allow: true, Type: "c", Minor: major(7), Access: "r"}, // *:7
	}
	got, err := deviceProperties(rules, 252)
	if err != nil {
		t.Fatal(err)
	}
	m := props(got)
	if m["DevicePolicy"] != "strict" {
		t.Errorf("DevicePolicy = %v", m["DevicePolicy"])
	}
	want := []deviceAllow{{"/dev/char/1:3", "rwm"}, {"char-136", "rw"},
		{"block-*", "m"}}
	var allow []deviceAllow
	if err := dbus.Store([]any{got[len(got)-1].Value.Value()}, &allow); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(allow, want) {
		t.Fatalf("DeviceAllow = %v, want %v", allow, want)
	}

	allowAll, err := deviceProperties([]specs.LinuxDeviceCgroup{
		{Allow: true, Access: "rwm"}}, 252)
	if err != nil {
		t.Fatal(err)
	}
	if props(allowAll)["DevicePolicy"] != "auto" {
		t.Fatalf("allow all: %v", props(allowAll))
	}
}

func TestUnifiedProperties(t *testing.T) {
	got, err := resourceProperties(&specs.LinuxResources{
		Unified: map[string]string{"memory.high": "4096",
			"cpu.max": "50000 100000", "pids.max": "max",
			"io.latency": "8:0 target=10"}}, true, 252)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"MemoryHigh": uint64(4096),
		"CPUQuotaPerSecUSec": uint64(500000),
		"CPUQuotaPeriodUSec": uint64(100000), "TasksMax": infinity}
	if g := props(got); !reflect.DeepEqual(g, want) {
		t.Fatalf("got  %v\nwant %v", g, want)
	}
}

// fakeConn stands in for systemd: it records calls, and starting a unit
// makes its cgroup directory (with the files cgroupfs would have) in a
// fake v2 tree and puts the pids in it.
type fakeConn struct {
	root    string
	started map[string][]sd.Property
	set     map[string][]sd.Property
	stopped []string
}

func (f *fakeConn) StartTransientUnitContext(_ context.Context, name,
	mode string, ps []sd.Property, ch chan<- string) (int, error) {

	f.started[name] = ps
	var slice string
	var pids []uint32
	for _, p := range ps {
		switch p.Name {
		case "Slice":
			slice = p.Value.Value().(string)
		case "PIDs":
			pids = p.Value.Value().([]uint32)
		}
	}
	rel := Unit{Slice: slice, Name: name}.RelPath()
	dir := f.root
	for _, elem := range strings.Split(strings.Trim(rel, "/"), "/") {
		dir = filepath.Join(dir, elem)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		for file, content := range map[string]string{
			"cgroup.controllers": "memory pids", "cgroup.subtree_control": "",
			"cgroup.procs": "", "memory.max": "max", "pids.max": "max",
			"cpu.max.burst": "0", "cgroup.events": "populated 1\nfrozen 0\n",
		} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(content),
				0o644); err != nil {
				return 0, err
			}
		}
	}
	if len(pids) == 1 {
		procs := filepath.Join(dir, "cgroup.procs")
		if err := os.WriteFile(procs, fmt.Appendf(nil, "%d\n", pids[0]),
			0o644); err != nil {
			return 0, err
		}
	}
	ch <- "done"
	return 1, nil
}

func (f *fakeConn) StopUnitContext(_ context.Context, name, _ string,
	ch chan<- string) (int, error) {

	f.stopped = append(f.stopped, name)
	ch <- "done"
	return 2, nil
}

func (f *fakeConn) SetUnitPropertiesContext(_ context.Context, name string,
	_ bool, ps ...sd.Property) error {

	f.set[name] = append(f.set[name], ps...)
	return nil
}

func (f *fakeConn) ResetFailedUnitContext(context.Context, string) error {
	return nil
}

func (f *fakeConn) GetManagerProperty(name string) (string, error) {
	switch name {
	case "Version":
		return `"252.19-1~deb12u1"`, nil
	case "ControlGroup":
		return `""`, nil
	}
	return "", fmt.Errorf("no property %s", name)
}

func (f *fakeConn) Close() {}

func TestManagerOverFakeDBus(t *testing.T) {
	root := cgrouptest.FakeDir(t, map[string]string{
		"cgroup.controllers": "memory pids", "cgroup.subtree_control": ""})
	fc := &fakeConn{root: root, started: map[string][]sd.Property{},
		set: map[string][]sd.Property{}}
	dial := func(bool) (conn, error) { return fc, nil }
	cfg := &configs.Cgroup{Path: "system.slice:towel:ctr", Systemd: true,
		Resources: &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}}}
	m, err := newManager(cfg, "ctr", false, true, root, dial)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	started := props(fc.started["towel-ctr.scope"])
	for name, want := range map[string]any{
		"Slice": "system.slice", "Delegate": true, "PIDs": []uint32{4242},
		"MemoryMax": uint64(1 << 20), "DefaultDependencies": false,
	} {
		if !reflect.DeepEqual(started[name], want) {
			t.Errorf("start property %s = %v, want %v", name,
				started[name], want)
		}
	}
	dir := filepath.Join(root, "system.slice", "towel-ctr.scope")
	if got := m.Path(""); got != dir {
		t.Fatalf("Path() = %q, want %q", got, dir)
	}

	// Set: a property for what systemd has, the file for the rest.
	err = m.Set(&specs.LinuxResources{
		Pids: &specs.LinuxPids{Limit: 10},
		CPU:  &specs.LinuxCPU{Burst: u64(1000)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := props(fc.set["towel-ctr.scope"])["TasksMax"]; v != uint64(10) {
		t.Errorf("TasksMax property = %v, want 10", v)
	}
	cgrouptest.Expect(t, dir, map[string]string{"pids.max": "10",
		"cpu.max.burst": "1000"})

	// Load finds the unit again from the saved paths.
	l, err := load(cfg, m.Paths(), true, root, dial)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	if len(fc.stopped) != 1 || fc.stopped[0] != "towel-ctr.scope" {
		t.Fatalf("stopped units %v", fc.stopped)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("unit cgroup left after Destroy: %v", err)
	}
}
