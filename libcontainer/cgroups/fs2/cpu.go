package fs2

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

var errRealtimeV2 = errors.New("invalid cpu.realtimeRuntime/" +
	"realtimePeriod: cgroup v2 has no realtime bandwidth control")

func setCPU(dir string, r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 ||
		c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		return errRealtimeV2
	}
	if err := setWeightAndIdle(dir, c); err != nil {
		return err
	}
	return setCPUMax(dir, c)
}

// setWeightAndIdle writes cpu.weight (from the shares) and cpu.idle
// (Linux 5.15: the tasks run as SCHED_IDLE). The kernel refuses a weight
// for an idle group (sched_group_set_shares in kernel/sched/fair.c) but
// keeps it for when the group stops being idle, so the weight is written
// with idle off.
func setWeightAndIdle(dir string, c *specs.LinuxCPU) error {
	writeIdle := func(v int64) error {
		return cgroups.WriteFile(dir, "cpu.idle", cgroups.FormatInt(v))
	}
	weightSet := c.Shares != nil && *c.Shares != 0
	if c.Idle != nil && (*c.Idle == 0 || weightSet) {
		if err := writeIdle(0); err != nil {
			return err
		}
	}
	if weightSet {
		w := cgroups.ConvertCPUSharesToWeight(*c.Shares)
		err := cgroups.WriteFile(dir, "cpu.weight", cgroups.FormatUint(w))
		if err != nil {
			return err
		}
	}
	if c.Idle != nil && *c.Idle != 0 {
		return writeIdle(*c.Idle)
	}
	return nil
}

// setCPUMax writes cpu.max ("$QUOTA $PERIOD", quota "max" for none) and
// cpu.max.burst (Linux 5.14). The kernel refuses a burst above the quota,
// so a burst that shrinks goes first and one that grows goes last.
func setCPUMax(dir string, c *specs.LinuxCPU) error {
	var max string
	quotaSet := c.Quota != nil && *c.Quota != 0
	periodSet := c.Period != nil && *c.Period != 0
	if quotaSet || periodSet {
		max = "max"
		if quotaSet && *c.Quota > 0 {
			max = cgroups.FormatInt(*c.Quota)
		} else if !quotaSet {
			// Only the period changes: keep the current quota.
			cur, err := cgroups.ReadFile(dir, "cpu.max")
			if err == nil {
				var q string
				fmt.Sscanf(cur, "%s", &q) //nolint:errcheck // empty on error
				if q != "" {
					max = q
				}
			}
		}
		if periodSet {
			max += " " + cgroups.FormatUint(*c.Period)
		}
	}

	burstFirst := false
	if c.Burst != nil && max != "" {
		cur, err := cgroups.ReadUint(dir, "cpu.max.burst")
		burstFirst = err == nil && *c.Burst < cur
	}
	if burstFirst {
		if err := writeBurst(dir, *c.Burst); err != nil {
			return err
		}
	}
	if max != "" {
		if err := cgroups.WriteFile(dir, "cpu.max", max); err != nil {
			return err
		}
	}
	if c.Burst != nil && !burstFirst {
		return writeBurst(dir, *c.Burst)
	}
	return nil
}

func writeBurst(dir string, burst uint64) error {
	err := cgroups.WriteFile(dir, "cpu.max.burst", cgroups.FormatUint(burst))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("set cpu.burst: this kernel has no CFS burst "+
			"(Linux 5.14): %w", err)
	}
	return err
}

func statCPU(dir string, s *cgroups.Stats) error {
	st, err := cgroups.ReadKeyValues(dir, "cpu.stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	// cpu.stat counts microseconds; Stats are in nanoseconds.
	s.CPU.Usage.Total = st["usage_usec"] * 1000
	s.CPU.Usage.User = st["user_usec"] * 1000
	s.CPU.Usage.Kernel = st["system_usec"] * 1000
	s.CPU.Throttling.Periods = st["nr_periods"]
	s.CPU.Throttling.ThrottledPeriods = st["nr_throttled"]
	s.CPU.Throttling.ThrottledTime = st["throttled_usec"] * 1000
	s.CPU.BurstPeriods = st["nr_bursts"]
	s.CPU.BurstTime = st["burst_usec"] * 1000
	s.CPU.PSI = readPSI(dir, "cpu.pressure")
	return nil
}

func setPids(dir string, r *specs.LinuxResources) error {
	if v := cgroups.PidsLimit(r.Pids); v != "" {
		return cgroups.WriteFile(dir, "pids.max", v)
	}
	return nil
}

func statPids(dir string, s *cgroups.Stats) error {
	cur, err := cgroups.ReadUint(dir, "pids.current")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// No pids controller here: count the processes instead.
			pids, err := cgroups.ReadAllProcs(dir)
			if err != nil {
				return err
			}
			s.Pids.Current = uint64(len(pids))
			return nil
		}
		return err
	}
	max, err := cgroups.ReadUint(dir, "pids.max")
	if err != nil {
		return err
	}
	if max == ^uint64(0) {
		max = 0
	}
	s.Pids.Current, s.Pids.Limit = cur, max
	return nil
}
