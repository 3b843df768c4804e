package fs2

import (
	"reflect"
	"testing"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

func TestStatsReadsV2Files(t *testing.T) {
	m := fakeManager(t, map[string]string{
		"memory.stat":         "anon 100\nfile 200\nshmem 0\n",
		"memory.current":      "300",
		"memory.max":          "1000",
		"memory.peak":         "400",
		"memory.events":       "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n",
		"memory.swap.current": "50",
		"memory.swap.max":     "max",
		"memory.swap.events":  "high 0\nmax 2\nfail 0\n",
		"cpu.stat": "usage_usec 10\nuser_usec 6\nsystem_usec 4\n" +
			"nr_periods 7\nnr_throttled 3\nthrottled_usec 9\n" +
			"nr_bursts 2\nburst_usec 5\n",
		"pids.current": "4",
		"pids.max":     "100",
		"io.stat":      "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
		"cgroup.procs": "",
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Cache != 200 || s.Memory.Usage != (cgroups.MemoryEntry{
		Usage: 300, Limit: 1000, Max: 400, Failcnt: 5}) {
		t.Errorf("memory: cache %d usage %+v", s.Memory.Cache, s.Memory.Usage)
	}
	// runc 1.2 prints swap alone on v2.
	if s.Memory.Swap.Usage != 50 || s.Memory.SwapOnlyUsage.Usage != 50 ||
		s.Memory.SwapUsage.Usage != 350 {
		t.Errorf("swap %+v, swap only %+v, memory+swap %+v", s.Memory.Swap,
			s.Memory.SwapOnlyUsage, s.Memory.SwapUsage)
	}
	if s.Memory.Events["oom_kill"] != 1 {
		t.Errorf("memory events %v", s.Memory.Events)
	}
	wantCPU := cgroups.CPUStats{
		Usage: cgroups.CPUUsage{Total: 10000, User: 6000, Kernel: 4000},
		Throttling: cgroups.ThrottlingData{Periods: 7, ThrottledPeriods: 3,
			ThrottledTime: 9000},
		BurstPeriods: 2, BurstTime: 5000,
	}
	if !reflect.DeepEqual(s.CPU, wantCPU) {
		t.Errorf("cpu %+v, want %+v", s.CPU, wantCPU)
	}
	if s.Pids != (cgroups.PidsStats{Current: 4, Limit: 100}) {
		t.Errorf("pids %+v", s.Pids)
	}
	wantBytes := []cgroups.BlkioEntry{
		{Major: 8, Op: "Read", Value: 10}, {Major: 8, Op: "Write", Value: 20},
		{Major: 8, Op: "Discard"}}
	if !reflect.DeepEqual(s.Blkio.IoServiceBytesRecursive, wantBytes) {
		t.Errorf("io bytes %+v", s.Blkio.IoServiceBytesRecursive)
	}
}

func TestStatsOfRootCgroupUseMemoryStat(t *testing.T) {
	m := fakeManager(t, map[string]string{
		"memory.stat":  "anon 100\nfile 200\n",
		"cgroup.procs": "",
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Usage != 300 {
		t.Fatalf("root usage %d, want anon+file 300", s.Memory.Usage.Usage)
	}
}
