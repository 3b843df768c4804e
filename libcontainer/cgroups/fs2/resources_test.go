package fs2

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
)

func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func boolp(v bool) *bool   { return &v }

func throttle(major, minor int64, rate uint64) []specs.LinuxThrottleDevice {
	return []specs.LinuxThrottleDevice{{
		LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major,
			Minor: minor},
		Rate: rate}}
}

// TestSetWritesEveryField sets each resource field on a fake cgroup2
// directory and reads back the file it must land in, converted as the
// runtime-spec says.
func TestSetWritesEveryField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		res   specs.LinuxResources
		want  map[string]string
	}{
		{
			name:  "cpu idle burst",
			files: map[string]string{"cpu.idle": "-", "cpu.max": "max 100000", "cpu.max.burst": "0"},
			res: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Idle: i64(1), Quota: i64(30000), Burst: u64(10000)}},
			want: map[string]string{"cpu.idle": "1",
				"cpu.max": "30000", "cpu.max.burst": "10000"},
		},
		{
			name: "cpu weight of an idle group",
			files: map[string]string{"cpu.idle": "1",
				"cpu.weight": "100"},
			res: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Idle: i64(1), Shares: u64(1024)}},
			want: map[string]string{"cpu.idle": "1", "cpu.weight": "39"},
		},
		{
			name:  "cpu quota -1 is max",
			files: map[string]string{"cpu.max": "-"},
			res: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Quota: i64(-1), Period: u64(100000)}},
			want: map[string]string{"cpu.max": "max 100000"},
		},
		{
			name:  "cpuset",
			files: map[string]string{"cpuset.cpus": "-", "cpuset.mems": "-"},
			res: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Cpus: "1", Mems: "0"}},
			want: map[string]string{"cpuset.cpus": "1", "cpuset.mems": "0"},
		},
		{
			name:  "io weight converted",
			files: map[string]string{"io.weight": "-"},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: u16(500)}},
			want: map[string]string{"io.weight": "4950"},
		},
		{
			name:  "io weight device converted",
			files: map[string]string{"io.weight": "-"},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				WeightDevice: []specs.LinuxWeightDevice{{
					LinuxBlockIODevice: specs.LinuxBlockIODevice{
						Major: 8, Minor: 0},
					Weight: u16(10)}}}},
			want: map[string]string{"io.weight": "8:0 1"},
		},
		{
			name:  "io bfq weight as is",
			files: map[string]string{"io.bfq.weight": "-", "io.weight": "-"},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: u16(500)}},
			want: map[string]string{"io.bfq.weight": "500", "io.weight": "-"},
		},
		{
			name:  "io read bps",
			files: map[string]string{"io.max": "-"},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleReadBpsDevice: throttle(8, 0, 1000)}},
			want: map[string]string{"io.max": "8:0 rbps=1000"},
		},
		{
			name:  "io write bps",
			files: map[string]string{"io.max": "-"},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleWriteBpsDevice: throttle(8, 0, 0)}},
			want: map[string]string{"io.max": "8:0 wbps=max"},
		},
		{
			name:  "io read iops",
			files: map[string]string{"io.max": "-"},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleReadIOPSDevice: throttle(8, 16, 30)}},
			want: map[string]string{"io.max": "8:16 riops=30"},
		},
		{
			name:  "io write iops",
			files: map[string]string{"io.max": "-"},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleWriteIOPSDevice: throttle(8, 16, 40)}},
			want: map[string]string{"io.max": "8:16 wiops=40"},
		},
		{
			name: "hugetlb with reservations",
			files: map[string]string{"hugetlb.1GB.max": "-",
				"hugetlb.1GB.rsvd.max": "-"},
			res: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
				{Pagesize: "1GB", Limit: 1 << 30}}},
			want: map[string]string{"hugetlb.1GB.max": "1073741824",
				"hugetlb.1GB.rsvd.max": "1073741824"},
		},
		{
			name:  "rdma",
			files: map[string]string{"rdma.max": "-"},
			res: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{
				"mlx5_1": {HcaHandles: u32(3), HcaObjects: u32(100)}}},
			want: map[string]string{
				"rdma.max": "mlx5_1 hca_handle=3 hca_object=100"},
		},
		{
			name: "unified",
			files: map[string]string{"cgroup.controllers": "memory pids",
				"memory.high": "-", "pids.max": "-"},
			res: specs.LinuxResources{Unified: map[string]string{
				"memory.high": "1000000", "pids.max": "9"}},
			want: map[string]string{"memory.high": "1000000",
				"pids.max": "9"},
		},
		{
			name:  "v2-less fields are ignored",
			files: map[string]string{"memory.swappiness": "untouched"},
			res: specs.LinuxResources{Memory: &specs.LinuxMemory{
				Swappiness: u64(5), DisableOOMKiller: boolp(true),
				KernelTCP: i64(1)},
				Network: &specs.LinuxNetwork{ClassID: u32(1)}},
			want: map[string]string{"memory.swappiness": "untouched"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeManager(t, tc.files)
			if err := m.Set(&tc.res); err != nil {
				t.Fatal(err)
			}
			cgrouptest.Expect(t, m.dir, tc.want)
		})
	}
}

func TestSetRejectsBadInputAndWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  specs.LinuxResources
		msg  string
	}{
		{"unified controller not enabled", specs.LinuxResources{
			Unified: map[string]string{"io.max": "8:0 rbps=1"}},
			`controller "io" is not enabled`},
		{"unified path in key", specs.LinuxResources{
			Unified: map[string]string{"../pids.max": "1"}}, "file name"},
		{"unified cgroup.procs", specs.LinuxResources{
			Unified: map[string]string{"cgroup.procs": "1"}}, "not a resource"},
		{"realtime on v2", specs.LinuxResources{CPU: &specs.LinuxCPU{
			RealtimeRuntime: i64(100)}}, "realtime"},
		{"swap without limit", specs.LinuxResources{
			Memory: &specs.LinuxMemory{Swap: i64(100)}}, "swap"},
		{"unknown hugepage size", specs.LinuxResources{
			HugepageLimits: []specs.LinuxHugepageLimit{
				{Pagesize: "3MB", Limit: 1}}}, "3MB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeManager(t, map[string]string{
				"cgroup.controllers": "memory pids", "pids.max": "max",
				"memory.swap.max": "max"})
			res := tc.res
			res.Pids = &specs.LinuxPids{Limit: 5}
			err := m.Set(&res)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want an error about %s", err, tc.msg)
			}
			cgrouptest.Expect(t, m.dir,
				map[string]string{"pids.max": "max"})
		})
	}
}

func TestSetMemoryCheckBeforeUpdate(t *testing.T) {
	m := fakeManager(t, map[string]string{"memory.max": "1000",
		"memory.current": "500"})
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: i64(400), CheckBeforeUpdate: boolp(true)}})
	if err == nil {
		t.Fatal("limit below usage with checkBeforeUpdate: no error")
	}
	cgrouptest.Expect(t, m.dir, map[string]string{"memory.max": "1000"})
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: i64(600), CheckBeforeUpdate: boolp(true)}})
	if err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.dir, map[string]string{"memory.max": "600"})
}
