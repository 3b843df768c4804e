package fs

import (
	"reflect"
	"testing"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

func TestStatsReadsV1Files(t *testing.T) {
	m := fakeManager(t, map[string]map[string]string{
		"memory": {
			"memory.stat":                     "cache 10\nrss 20\n",
			"memory.usage_in_bytes":           "300",
			"memory.max_usage_in_bytes":       "400",
			"memory.limit_in_bytes":           "1000",
			"memory.failcnt":                  "2",
			"memory.memsw.usage_in_bytes":     "350",
			"memory.memsw.max_usage_in_bytes": "450",
			"memory.memsw.limit_in_bytes":     "2000",
			"memory.memsw.failcnt":            "0",
			"memory.oom_control":              "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
		},
		"cpuacct": {
			"cpuacct.usage":     "1000",
			"cpuacct.usage_all": "cpu user system\n0 100 200\n1 300 400\n",
			"cpuacct.stat":      "user 5\nsystem 6\n",
		},
		"cpu": {"cpu.stat": "nr_periods 4\nnr_throttled 1\nthrottled_time 99\n"},
		"blkio": {
			"blkio.throttle.io_service_bytes_recursive": "8:0 Read 7\n8:0 Write 8\nTotal 15\n",
			"blkio.throttle.io_serviced_recursive":      "8:0 Read 1\nTotal 1\n",
		},
		"cpuset": {"cpuset.cpus": "0-1,3", "cpuset.mems": "0"},
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Cache != 10 || s.Memory.Usage.Usage != 300 ||
		s.Memory.Swap.Usage != 350 || s.Memory.SwapOnlyUsage.Usage != 50 ||
		s.Memory.Events["oom_kill"] != 3 {
		t.Errorf("memory %+v", s.Memory)
	}
	wantUsage := cgroups.CPUUsage{Total: 1000, Percpu: []uint64{300, 700},
		PercpuUser: []uint64{100, 300}, PercpuKernel: []uint64{200, 400},
		User: 50000000, Kernel: 60000000}
	if !reflect.DeepEqual(s.CPU.Usage, wantUsage) {
		t.Errorf("cpu usage %+v, want %+v", s.CPU.Usage, wantUsage)
	}
	if s.CPU.Throttling.ThrottledTime != 99 {
		t.Errorf("throttling %+v", s.CPU.Throttling)
	}
	wantBytes := []cgroups.BlkioEntry{{Major: 8, Op: "Read", Value: 7},
		{Major: 8, Op: "Write", Value: 8}}
	if !reflect.DeepEqual(s.Blkio.IoServiceBytesRecursive, wantBytes) {
		t.Errorf("blkio %+v", s.Blkio.IoServiceBytesRecursive)
	}
	if !reflect.DeepEqual(s.CPUSet.CPUs, []uint16{0, 1, 3}) {
		t.Errorf("cpuset cpus %v", s.CPUSet.CPUs)
	}
}
