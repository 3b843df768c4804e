package libcontainer

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }

func TestMergeResourcesWritesSetFieldsOverOld(t *testing.T) {
	old := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(100), Reservation: i64(50)},
		CPU:     &specs.LinuxCPU{Shares: u64(1024), Cpus: "0-1"},
		Pids:    &specs.LinuxPids{Limit: 10},
		Unified: map[string]string{"a": "1"},
	}
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(200)},
		CPU:     &specs.LinuxCPU{Quota: i64(5000), Shares: u64(0)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(300)},
		Unified: map[string]string{"b": "2"},
	}
	got := mergeResources(old, r)

	if *got.Memory.Limit != 200 || *got.Memory.Reservation != 50 {
		t.Errorf("memory = %+v", got.Memory)
	}
	// 0 means "leave as it is", as in runc's update.
	if *got.CPU.Shares != 1024 || *got.CPU.Quota != 5000 ||
		got.CPU.Cpus != "0-1" {
		t.Errorf("cpu = %+v", got.CPU)
	}
	if got.Pids.Limit != 10 || *got.BlockIO.Weight != 300 {
		t.Errorf("pids %+v, blockIO %+v", got.Pids, got.BlockIO)
	}
	if !reflect.DeepEqual(got.Unified, map[string]string{"a": "1", "b": "2"}) {
		t.Errorf("unified = %v", got.Unified)
	}

	// old is not changed.
	if *old.Memory.Limit != 100 || old.CPU.Quota != nil || old.BlockIO != nil ||
		len(old.Unified) != 1 {
		t.Errorf("old was changed: %+v", old)
	}
}

func TestMergeResourcesUnlimitedMemoryLiftsSwap(t *testing.T) {
	old := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(200)},
	}
	got := mergeResources(old, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(-1)},
	})
	if *got.Memory.Limit != -1 || got.Memory.Swap == nil ||
		*got.Memory.Swap != -1 {
		t.Errorf("memory = limit %v swap %v, want -1 and -1",
			got.Memory.Limit, got.Memory.Swap)
	}

	got = mergeResources(old, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(300)},
	})
	if *got.Memory.Swap != 300 {
		t.Errorf("swap = %d, want the one given", *got.Memory.Swap)
	}
}

func TestTouchedSectionsOnlyHasWhatTheUpdateSets(t *testing.T) {
	from := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(1)},
		CPU:    &specs.LinuxCPU{Shares: u64(2)},
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
		},
	}
	got := touchedSections(from, &specs.LinuxResources{
		CPU: &specs.LinuxCPU{},
	})
	want := &specs.LinuxResources{CPU: from.CPU}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("touchedSections = %+v, want %+v", got, want)
	}
}

func TestCheckResourceValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    specs.LinuxResources
		bad  string
	}{
		{name: "unlimited", r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)},
			Pids:   &specs.LinuxPids{Limit: -1},
			CPU:    &specs.LinuxCPU{Quota: i64(-1)},
		}},
		{name: "cpu 0", r: specs.LinuxResources{
			CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"},
		}},
		{name: "negative memory", bad: "memory.limit", r: specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: i64(-5)},
		}},
		{name: "negative reservation", bad: "memory.reservation",
			r: specs.LinuxResources{
				Memory: &specs.LinuxMemory{Reservation: i64(-2)},
			}},
		{name: "negative pids", bad: "pids.limit", r: specs.LinuxResources{
			Pids: &specs.LinuxPids{Limit: -3},
		}},
		{name: "negative quota", bad: "cpu.quota", r: specs.LinuxResources{
			CPU: &specs.LinuxCPU{Quota: i64(-9)},
		}},
		{name: "cpu not online", bad: "cpu.cpus", r: specs.LinuxResources{
			CPU: &specs.LinuxCPU{Cpus: "0,100000"},
		}},
		{name: "cpu list syntax", bad: "cpu.cpus", r: specs.LinuxResources{
			CPU: &specs.LinuxCPU{Cpus: "0-"},
		}},
		{name: "memory node not online", bad: "cpu.mems",
			r: specs.LinuxResources{
				CPU: &specs.LinuxCPU{Mems: "4096"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkResourceValues(&tc.r)
			if tc.bad == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("err = %v, want one naming %s", err, tc.bad)
			}
		})
	}
}

func TestParseCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "", want: nil},
		{in: "0", want: []int{0}},
		{in: "0-2,5", want: []int{0, 1, 2, 5}},
		{in: "3,3", want: []int{3}},
		{in: "2-1", bad: true},
		{in: "a", bad: true},
		{in: "-1", bad: true},
		{in: "0,,1", bad: true},
		{in: "0-999999", bad: true},
	} {
		got, err := parseCPUList(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseCPUList(%q): no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseCPUList(%q): %v", tc.in, err)
			continue
		}
		want := make(map[int]bool)
		for _, n := range tc.want {
			want[n] = true
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseCPUList(%q) = %v, want %v", tc.in, got, want)
		}
	}
}
