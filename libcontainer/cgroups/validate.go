package cgroups

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BUG(towel): CheckUnused on cgroup v1 counts the processes of one
// hierarchy only (devices, as runc), assuming the others match.

// BUG(towel): memory.kernel is ignored on every host, and on cgroup v2
// memory.kernelTCP, swappiness, disableOOMKiller, useHierarchy=false,
// blockIO.leafWeight and network are ignored too; Warnings names them for
// the caller to log.

// ValidateResources checks r for values no driver can apply, without
// touching any cgroup, so that Set can refuse bad input before writing
// anything. v2 selects the cgroup v2 rules. What depends on the cgroup
// itself (a page size, an enabled controller) is checked by the driver.
func ValidateResources(r *specs.LinuxResources, v2 bool) error {
	if r == nil {
		return nil
	}
	if m := r.Memory; m != nil {
		if m.Swappiness != nil && *m.Swappiness > 100 {
			return fmt.Errorf("invalid memory.swappiness %d: valid range "+
				"is 0-100", *m.Swappiness)
		}
		if v2 {
			var limit, swap int64
			if m.Limit != nil {
				limit = *m.Limit
			}
			if m.Swap != nil {
				swap = *m.Swap
			}
			if _, err := ConvertMemorySwapToV2(swap, limit); err != nil {
				return err
			}
		} else if m.Limit != nil && m.Swap != nil && *m.Limit > 0 &&
			*m.Swap > 0 && *m.Swap < *m.Limit {
			return errSwapBelowMemory
		}
	}
	if c := r.CPU; c != nil {
		if v2 && (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 ||
			c.RealtimePeriod != nil && *c.RealtimePeriod != 0) {
			return errors.New("invalid cpu.realtimeRuntime/realtimePeriod: " +
				"cgroup v2 has no realtime bandwidth control")
		}
		if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
			return fmt.Errorf("invalid cpu.idle %d: want 0 or 1", *c.Idle)
		}
		if c.Burst != nil && c.Quota != nil && *c.Quota > 0 &&
			*c.Burst > uint64(*c.Quota) {
			return fmt.Errorf("invalid cpu.burst %d: above cpu.quota %d",
				*c.Burst, *c.Quota)
		}
	}
	if !v2 && len(r.Unified) > 0 {
		return errors.New("invalid linux.resources.unified: cgroup v2 " +
			"keys cannot be used on a cgroup v1 host")
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil && *b.Weight != 0 &&
			(*b.Weight < 10 || *b.Weight > 1000) {
			return fmt.Errorf("invalid blockIO.weight %d: valid range "+
				"is 10-1000", *b.Weight)
		}
	}
	for i, h := range r.HugepageLimits {
		if h.Pagesize == "" {
			return fmt.Errorf("invalid hugepageLimits[%d]: no pageSize", i)
		}
	}
	return nil
}

// Warnings lists the settings in r that the driver for v1 or v2 will
// ignore, one sentence each, for the caller to log.
func Warnings(r *specs.LinuxResources, v2 bool) []string {
	if r == nil {
		return nil
	}
	var w []string
	if m := r.Memory; m != nil {
		if m.Kernel != nil {
			w = append(w, "memory.kernel is ignored: kernel memory "+
				"limits are not supported since Linux 5.16")
		}
		if v2 && m.KernelTCP != nil {
			w = append(w, "memory.kernelTCP is ignored on cgroup v2")
		}
		if v2 && m.Swappiness != nil {
			w = append(w, "memory.swappiness is ignored on cgroup v2")
		}
		if v2 && m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			w = append(w, "memory.disableOOMKiller is ignored on cgroup v2")
		}
		if v2 && m.UseHierarchy != nil && !*m.UseHierarchy {
			w = append(w, "memory.useHierarchy=false is ignored on "+
				"cgroup v2, which is always hierarchical")
		}
	}
	if v2 && r.Network != nil &&
		(r.Network.ClassID != nil || len(r.Network.Priorities) > 0) {
		w = append(w, "network.classID and network.priorities are "+
			"ignored on cgroup v2 (no net_cls or net_prio controller)")
	}
	if v2 && r.BlockIO != nil && r.BlockIO.LeafWeight != nil {
		w = append(w, "blockIO.leafWeight is ignored on cgroup v2")
	}
	return w
}
