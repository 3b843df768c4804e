package fs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

type cpuGroup struct{}

func (cpuGroup) name() string { return "cpu" }

func (cpuGroup) needed(r *specs.LinuxResources) bool {
	c := r.CPU
	return c != nil && (c.Shares != nil || c.Quota != nil ||
		c.Period != nil || c.Burst != nil || c.RealtimeRuntime != nil ||
		c.RealtimePeriod != nil || c.Idle != nil)
}

func (cpuGroup) set(dir string, r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if err := setSharesAndIdle(dir, c); err != nil {
		return err
	}
	if err := setCFS(dir, c); err != nil {
		return err
	}
	return setRealtime(dir, c)
}

// setSharesAndIdle writes cpu.shares and cpu.idle (Linux 5.15: the
// cgroup's tasks run as SCHED_IDLE). The kernel refuses shares for an
// idle group (sched_group_set_shares in kernel/sched/fair.c) but keeps
// them for when it stops being idle, so shares are written with idle off.
func setSharesAndIdle(dir string, c *specs.LinuxCPU) error {
	writeIdle := func(v int64) error {
		return cgroups.WriteFile(dir, "cpu.idle", cgroups.FormatInt(v))
	}
	if c.Idle != nil && (*c.Idle == 0 || c.Shares != nil) {
		if err := writeIdle(0); err != nil {
			return err
		}
	}
	if c.Shares != nil {
		if err := setShares(dir, *c.Shares); err != nil {
			return err
		}
	}
	if c.Idle != nil && *c.Idle != 0 {
		return writeIdle(*c.Idle)
	}
	return nil
}

// setShares writes cpu.shares and checks what the kernel made of it: it
// clamps out-of-range values silently.
func setShares(dir string, shares uint64) error {
	if err := cgroups.WriteFile(dir, "cpu.shares",
		cgroups.FormatUint(shares)); err != nil {
		return err
	}
	got, err := cgroups.ReadUint(dir, "cpu.shares")
	if err != nil {
		return err
	}
	if got != shares {
		return fmt.Errorf("set cpu.shares to %d: the kernel clamped it "+
			"to %d", shares, got)
	}
	return nil
}

// setCFS writes the CFS bandwidth: period, quota and burst. The kernel
// refuses a burst above the quota and checks each write against the other
// values, so the order depends on whether the quota grows or shrinks.
func setCFS(dir string, c *specs.LinuxCPU) error {
	if c.Period != nil && *c.Period != 0 {
		err := cgroups.WriteFile(dir, "cpu.cfs_period_us",
			cgroups.FormatUint(*c.Period))
		if err != nil {
			return err
		}
	}
	burstFirst := false
	if c.Burst != nil && c.Quota != nil {
		// A shrinking burst must go before a shrinking quota.
		cur, err := cgroups.ReadUint(dir, "cpu.cfs_burst_us")
		burstFirst = err == nil && *c.Burst < cur
	}
	if burstFirst {
		if err := writeBurst(dir, *c.Burst); err != nil {
			return err
		}
	}
	if c.Quota != nil && *c.Quota != 0 {
		err := cgroups.WriteFile(dir, "cpu.cfs_quota_us",
			cgroups.FormatInt(*c.Quota))
		if err != nil {
			return err
		}
	}
	if c.Burst != nil && !burstFirst {
		return writeBurst(dir, *c.Burst)
	}
	return nil
}

func writeBurst(dir string, burst uint64) error {
	err := cgroups.WriteFile(dir, "cpu.cfs_burst_us", cgroups.FormatUint(burst))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("set cpu.burst: this kernel has no CFS burst "+
			"(Linux 5.14): %w", err)
	}
	return err
}

// setRealtime writes the RT bandwidth. A larger period must be written
// before a larger runtime, a smaller one after: the kernel checks
// runtime <= period at every write.
func setRealtime(dir string, c *specs.LinuxCPU) error {
	periodFirst := true
	if c.RealtimePeriod != nil && c.RealtimeRuntime != nil {
		cur, err := cgroups.ReadUint(dir, "cpu.rt_period_us")
		periodFirst = err != nil || *c.RealtimePeriod >= cur
	}
	writePeriod := func() error {
		if c.RealtimePeriod == nil || *c.RealtimePeriod == 0 {
			return nil
		}
		return cgroups.WriteFile(dir, "cpu.rt_period_us",
			cgroups.FormatUint(*c.RealtimePeriod))
	}
	if periodFirst {
		if err := writePeriod(); err != nil {
			return err
		}
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
		err := cgroups.WriteFile(dir, "cpu.rt_runtime_us",
			cgroups.FormatInt(*c.RealtimeRuntime))
		if err != nil {
			return err
		}
	}
	if !periodFirst {
		return writePeriod()
	}
	return nil
}

func (cpuGroup) stat(dir string, s *cgroups.Stats) error {
	st, err := cgroups.ReadKeyValues(dir, "cpu.stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	s.CPU.Throttling.Periods = st["nr_periods"]
	s.CPU.Throttling.ThrottledPeriods = st["nr_throttled"]
	s.CPU.Throttling.ThrottledTime = st["throttled_time"]
	s.CPU.BurstPeriods = st["nr_bursts"]
	s.CPU.BurstTime = st["burst_time"]
	return nil
}

// cpuacctGroup only reports usage; it has nothing to set.
type cpuacctGroup struct{}

func (cpuacctGroup) name() string                            { return "cpuacct" }
func (cpuacctGroup) needed(*specs.LinuxResources) bool       { return false }
func (cpuacctGroup) set(string, *specs.LinuxResources) error { return nil }

func (cpuacctGroup) stat(dir string, s *cgroups.Stats) error {
	total, err := cgroups.ReadUint(dir, "cpuacct.usage")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	s.CPU.Usage.Total = total

	// cpuacct.usage_all: "cpu user system" header, then one line a CPU,
	// in nanoseconds.
	if all, err := cgroups.ReadFile(dir, "cpuacct.usage_all"); err == nil {
		var percpu, user, kernel []uint64
		for _, line := range strings.Split(all, "\n")[1:] {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			u, _ := strconv.ParseUint(f[1], 10, 64)
			k, _ := strconv.ParseUint(f[2], 10, 64)
			user = append(user, u)
			kernel = append(kernel, k)
			percpu = append(percpu, u+k)
		}
		s.CPU.Usage.PercpuUser = user
		s.CPU.Usage.PercpuKernel = kernel
		s.CPU.Usage.Percpu = percpu
	}

	// cpuacct.stat is in USER_HZ ticks (100 a second on Linux).
	if st, err := cgroups.ReadKeyValues(dir, "cpuacct.stat"); err == nil {
		const nsPerTick = 1e9 / 100
		s.CPU.Usage.User = st["user"] * nsPerTick
		s.CPU.Usage.Kernel = st["system"] * nsPerTick
	}
	return nil
}
