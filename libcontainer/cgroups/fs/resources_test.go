package fs

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
)

func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }

// TestSetWritesEveryField sets each v1 resource field on a fake
// hierarchy and reads back the file it must land in.
func TestSetWritesEveryField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ctl   string
		files map[string]string
		res   specs.LinuxResources
		want  map[string]string
	}{
		{
			name: "memory kernelTCP swappiness oom hierarchy", ctl: "memory",
			files: map[string]string{
				"memory.kmem.tcp.limit_in_bytes": "-", "memory.swappiness": "-",
				"memory.oom_control": "-", "memory.use_hierarchy": "-",
				"memory.kmem.limit_in_bytes": "untouched",
			},
			res: specs.LinuxResources{Memory: &specs.LinuxMemory{
				KernelTCP: i64(1 << 20), Swappiness: u64(10),
				DisableOOMKiller: boolp(true), UseHierarchy: boolp(true),
				Kernel: i64(1 << 20)}},
			want: map[string]string{
				"memory.kmem.tcp.limit_in_bytes": "1048576",
				"memory.swappiness":              "10",
				"memory.oom_control":             "1",
				"memory.use_hierarchy":           "1",
				"memory.kmem.limit_in_bytes":     "untouched",
			},
		},
		{
			name: "memory -1 lifts swap too", ctl: "memory",
			files: map[string]string{memLimitFile: "100", memswFile: "200"},
			res: specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: i64(-1)}},
			want: map[string]string{memLimitFile: "-1", memswFile: "-1"},
		},
		{
			name: "cpu burst rt idle", ctl: "cpu",
			files: map[string]string{
				"cpu.cfs_burst_us": "0", "cpu.cfs_quota_us": "-1",
				"cpu.rt_runtime_us": "0", "cpu.rt_period_us": "1000000",
				"cpu.idle": "0",
			},
			res: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Quota: i64(20000), Burst: u64(10000),
				RealtimeRuntime: i64(5000), RealtimePeriod: u64(100000),
				Idle: i64(1)}},
			want: map[string]string{
				"cpu.cfs_burst_us": "10000", "cpu.cfs_quota_us": "20000",
				"cpu.rt_runtime_us": "5000", "cpu.rt_period_us": "100000",
				"cpu.idle": "1",
			},
		},
		{
			// The kernel takes shares only with idle off: set with
			// idle on, they are written before idle is.
			name: "cpu shares of an idle group", ctl: "cpu",
			files: map[string]string{"cpu.shares": "1024",
				"cpu.idle": "1"},
			res: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: u64(512), Idle: i64(1)}},
			want: map[string]string{"cpu.shares": "512", "cpu.idle": "1"},
		},
		{
			name: "cpuset", ctl: "cpuset",
			files: map[string]string{"cpuset.cpus": "-", "cpuset.mems": "-"},
			res: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Cpus: "0-1", Mems: "0"}},
			want: map[string]string{"cpuset.cpus": "0-1", "cpuset.mems": "0"},
		},
		{
			name: "blkio cfq weights and throttles", ctl: "blkio",
			files: map[string]string{
				"blkio.weight": "-", "blkio.weight_device": "-",
				"blkio.leaf_weight": "-", "blkio.leaf_weight_device": "-",
				"blkio.throttle.read_bps_device":   "-",
				"blkio.throttle.write_bps_device":  "-",
				"blkio.throttle.read_iops_device":  "-",
				"blkio.throttle.write_iops_device": "-",
			},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: u16(500), LeafWeight: u16(300),
				WeightDevice: []specs.LinuxWeightDevice{{
					LinuxBlockIODevice: specs.LinuxBlockIODevice{
						Major: 8, Minor: 0},
					Weight: u16(600), LeafWeight: u16(200)}},
				ThrottleReadBpsDevice:   throttle(8, 0, 1000),
				ThrottleWriteBpsDevice:  throttle(8, 0, 2000),
				ThrottleReadIOPSDevice:  throttle(8, 0, 30),
				ThrottleWriteIOPSDevice: throttle(8, 0, 40)}},
			want: map[string]string{
				"blkio.weight": "500", "blkio.weight_device": "8:0 600",
				"blkio.leaf_weight":                "300",
				"blkio.leaf_weight_device":         "8:0 200",
				"blkio.throttle.read_bps_device":   "8:0 1000",
				"blkio.throttle.write_bps_device":  "8:0 2000",
				"blkio.throttle.read_iops_device":  "8:0 30",
				"blkio.throttle.write_iops_device": "8:0 40",
			},
		},
		{
			name: "blkio bfq weights", ctl: "blkio",
			files: map[string]string{"blkio.bfq.weight": "-",
				"blkio.bfq.weight_device": "-"},
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: u16(100),
				WeightDevice: []specs.LinuxWeightDevice{{
					LinuxBlockIODevice: specs.LinuxBlockIODevice{
						Major: 8, Minor: 16},
					Weight: u16(50)}}}},
			want: map[string]string{"blkio.bfq.weight": "100",
				"blkio.bfq.weight_device": "8:16 50"},
		},
		{
			name: "hugetlb with reservations", ctl: "hugetlb",
			files: map[string]string{
				"hugetlb.2MB.limit_in_bytes":      "-",
				"hugetlb.2MB.rsvd.limit_in_bytes": "-",
			},
			res: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
				{Pagesize: "2MB", Limit: 4 << 20}}},
			want: map[string]string{
				"hugetlb.2MB.limit_in_bytes":      "4194304",
				"hugetlb.2MB.rsvd.limit_in_bytes": "4194304",
			},
		},
		{
			name: "net_cls", ctl: "net_cls",
			files: map[string]string{"net_cls.classid": "-"},
			res: specs.LinuxResources{Network: &specs.LinuxNetwork{
				ClassID: u32(0x100001)}},
			want: map[string]string{"net_cls.classid": "1048577"},
		},
		{
			name: "net_prio", ctl: "net_prio",
			files: map[string]string{"net_prio.ifpriomap": "-"},
			res: specs.LinuxResources{Network: &specs.LinuxNetwork{
				Priorities: []specs.LinuxInterfacePriority{
					{Name: "eth0", Priority: 5}}}},
			want: map[string]string{"net_prio.ifpriomap": "eth0 5"},
		},
		{
			name: "rdma", ctl: "rdma",
			files: map[string]string{"rdma.max": "-"},
			res: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{
				"mlx4_0": {HcaHandles: u32(2)}}},
			want: map[string]string{
				"rdma.max": "mlx4_0 hca_handle=2 hca_object=max"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeManager(t, map[string]map[string]string{tc.ctl: tc.files})
			if err := m.Set(&tc.res); err != nil {
				t.Fatal(err)
			}
			cgrouptest.Expect(t, m.Path(tc.ctl), tc.want)
		})
	}
}

func throttle(major, minor int64, rate uint64) []specs.LinuxThrottleDevice {
	return []specs.LinuxThrottleDevice{{
		LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major,
			Minor: minor},
		Rate: rate}}
}

func TestSetMemorySwapGrowingGoesFirst(t *testing.T) {
	// Current memsw 200 and limit 100; raising both to 300/400 must
	// write memsw first or the kernel refuses the limit above memsw.
	m := fakeManager(t, map[string]map[string]string{"memory": {
		memLimitFile: "100", memswFile: "200"}})
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: i64(300), Swap: i64(400)}}); err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.Path("memory"), map[string]string{
		memLimitFile: "300", memswFile: "400"})
}

func TestSetRejectsBadInputAndWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  specs.LinuxResources
		msg  string
	}{
		{"swappiness", specs.LinuxResources{
			Pids:   &specs.LinuxPids{Limit: 5},
			Memory: &specs.LinuxMemory{Swappiness: u64(101)}}, "swappiness"},
		{"unified on v1", specs.LinuxResources{
			Pids:    &specs.LinuxPids{Limit: 5},
			Unified: map[string]string{"pids.max": "3"}}, "unified"},
		{"swap below limit", specs.LinuxResources{
			Pids: &specs.LinuxPids{Limit: 5},
			Memory: &specs.LinuxMemory{Limit: i64(200),
				Swap: i64(100)}}, "swap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fakeManager(t, map[string]map[string]string{
				"pids": {"pids.max": "max"}, "memory": {}})
			err := m.Set(&tc.res)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want an error about %s", err, tc.msg)
			}
			cgrouptest.Expect(t, m.Path("pids"),
				map[string]string{"pids.max": "max"})
		})
	}
}

func TestSetMemoryCheckBeforeUpdate(t *testing.T) {
	m := fakeManager(t, map[string]map[string]string{"memory": {
		memLimitFile: "1000", "memory.usage_in_bytes": "500"}})
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: i64(400), CheckBeforeUpdate: boolp(true)}})
	if err == nil {
		t.Fatal("limit below usage with checkBeforeUpdate: no error")
	}
	cgrouptest.Expect(t, m.Path("memory"),
		map[string]string{memLimitFile: "1000"})
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: i64(600), CheckBeforeUpdate: boolp(true)}})
	if err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.Path("memory"),
		map[string]string{memLimitFile: "600"})
}

func TestSetDevicesWritesDifference(t *testing.T) {
	m := fakeManager(t, map[string]map[string]string{"devices": {
		"devices.list": "c 1:3 rwm\n", "devices.allow": "-",
		"devices.deny": "-"}})
	major, minor := int64(1), int64(5)
	err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rw"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cgrouptest.Expect(t, m.Path("devices"), map[string]string{
		"devices.deny": "c 1:3 rwm", "devices.allow": "c 1:5 rw"})
}
