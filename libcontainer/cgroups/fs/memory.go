package fs

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

const (
	memLimitFile = "memory.limit_in_bytes"
	memswFile    = "memory.memsw.limit_in_bytes"
)

type memoryGroup struct{}

func (memoryGroup) name() string { return "memory" }

func (memoryGroup) needed(r *specs.LinuxResources) bool {
	m := r.Memory
	return m != nil && (m.Limit != nil || m.Reservation != nil ||
		m.Swap != nil || m.KernelTCP != nil || m.Swappiness != nil ||
		m.DisableOOMKiller != nil && *m.DisableOOMKiller ||
		m.UseHierarchy != nil)
}

func (memoryGroup) set(dir string, r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	if err := setMemoryAndSwap(dir, m); err != nil {
		return err
	}
	if m.Reservation != nil {
		err := cgroups.WriteFile(dir, "memory.soft_limit_in_bytes",
			cgroups.FormatInt(*m.Reservation))
		if err != nil {
			return err
		}
	}
	// memory.kmem.limit_in_bytes is a no-op since Linux 5.16 and is not
	// written at all (see cgroups.Warnings); the TCP one still works.
	if m.KernelTCP != nil {
		err := cgroups.WriteFile(dir, "memory.kmem.tcp.limit_in_bytes",
			cgroups.FormatInt(*m.KernelTCP))
		if err != nil {
			return err
		}
	}
	if m.Swappiness != nil {
		if *m.Swappiness > 100 {
			return fmt.Errorf("invalid memory swappiness %d: "+
				"valid range is 0-100", *m.Swappiness)
		}
		err := cgroups.WriteFile(dir, "memory.swappiness",
			cgroups.FormatUint(*m.Swappiness))
		if err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		if err := cgroups.WriteFile(dir, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	if m.UseHierarchy != nil {
		v := "0"
		if *m.UseHierarchy {
			v = "1"
		}
		err := cgroups.WriteFile(dir, "memory.use_hierarchy", v)
		if err != nil {
			// Since Linux 5.x non-hierarchical mode is gone: 1 is the
			// only value, and writing it again is harmless.
			if *m.UseHierarchy || !errors.Is(err, unix.EINVAL) {
				return err
			}
			return fmt.Errorf("memory.useHierarchy=false: not supported "+
				"by this kernel: %w", err)
		}
	}
	return nil
}

// setMemoryAndSwap writes memory.limit_in_bytes and
// memory.memsw.limit_in_bytes in the order the kernel accepts: memsw may
// never be below the memory limit, so when the new memsw is above the
// current memory limit it goes first, else last.
func setMemoryAndSwap(dir string, m *specs.LinuxMemory) error {
	var limit, swap int64
	if m.Limit != nil {
		limit = *m.Limit
	}
	if m.Swap != nil {
		swap = *m.Swap
	}
	// Unlimited memory with swap unset means unlimited memory+swap too,
	// or the old memsw limit would still cap it.
	if limit == -1 && m.Swap == nil {
		swap = -1
	}

	swapFirst := false
	if limit != 0 && swap != 0 {
		cur, err := cgroups.ReadUint(dir, memLimitFile)
		if err != nil {
			return err
		}
		swapFirst = swap == -1 || cur < uint64(swap)
	}
	if swapFirst {
		if err := writeSwap(dir, swap); err != nil {
			return err
		}
	}
	if limit != 0 {
		err := cgroups.WriteFile(dir, memLimitFile, cgroups.FormatInt(limit))
		if errors.Is(err, unix.EBUSY) {
			usage, _ := cgroups.ReadUint(dir, "memory.usage_in_bytes")
			max, _ := cgroups.ReadUint(dir, "memory.max_usage_in_bytes")
			return fmt.Errorf("set memory limit to %d (current usage %d, "+
				"peak %d): %w", limit, usage, max, err)
		}
		if err != nil {
			return err
		}
	}
	if !swapFirst && swap != 0 {
		return writeSwap(dir, swap)
	}
	return nil
}

func writeSwap(dir string, swap int64) error {
	err := cgroups.WriteFile(dir, memswFile, cgroups.FormatInt(swap))
	if errors.Is(err, os.ErrNotExist) && swap == -1 {
		// No swap accounting (swapaccount=0): nothing to lift.
		return nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("set memory.swap: this kernel has no swap "+
			"accounting: %w", err)
	}
	return err
}

// checkUsage refuses a limit below the current usage
// (memory.checkBeforeUpdate in the runtime-spec).
func checkUsage(dir, usageFile string, limit int64) error {
	usage, err := cgroups.ReadUint(dir, usageFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // a new cgroup: nothing used yet
		}
		return err
	}
	if uint64(limit) < usage {
		return fmt.Errorf("memory limit %d is below current usage %d "+
			"(memory.checkBeforeUpdate is set)", limit, usage)
	}
	return nil
}

func (memoryGroup) stat(dir string, s *cgroups.Stats) error {
	raw, err := cgroups.ReadKeyValues(dir, "memory.stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	s.Memory.Raw = raw
	s.Memory.Cache = raw["cache"]

	if s.Memory.Usage, err = memoryEntry(dir, "memory"); err != nil {
		return err
	}
	// memsw and kmem files exist only with swap and kmem accounting.
	s.Memory.SwapUsage, _ = memoryEntry(dir, "memory.memsw")
	s.Memory.Swap = s.Memory.SwapUsage
	s.Memory.SwapOnlyUsage = swapOnly(s.Memory.SwapUsage, s.Memory.Usage)
	s.Memory.Kernel, _ = memoryEntry(dir, "memory.kmem")
	s.Memory.KernelTCP, _ = memoryEntry(dir, "memory.kmem.tcp")

	if v, err := cgroups.ReadUint(dir, "memory.use_hierarchy"); err == nil {
		s.Memory.UseHierarchy = v == 1
	}
	if oom, err := cgroups.ReadKeyValues(dir, "memory.oom_control"); err == nil {
		s.Memory.Events = map[string]uint64{
			"oom_kill":  oom["oom_kill"],
			"under_oom": oom["under_oom"],
		}
	}
	return nil
}

func swapOnly(memsw, mem cgroups.MemoryEntry) cgroups.MemoryEntry {
	var e cgroups.MemoryEntry
	if memsw.Usage > mem.Usage {
		e.Usage = memsw.Usage - mem.Usage
	}
	if memsw.Max > mem.Max {
		e.Max = memsw.Max - mem.Max
	}
	e.Limit = memsw.Limit
	if memsw.Limit != mem.Limit && memsw.Limit > mem.Limit &&
		memsw.Limit < 1<<62 {
		e.Limit = memsw.Limit - mem.Limit
	}
	e.Failcnt = memsw.Failcnt
	return e
}

// memoryEntry reads PREFIX.{usage,max_usage,limit}_in_bytes and
// PREFIX.failcnt.
func memoryEntry(dir, prefix string) (cgroups.MemoryEntry, error) {
	var e cgroups.MemoryEntry
	var err error
	files := []struct {
		suffix string
		dst    *uint64
	}{
		{".usage_in_bytes", &e.Usage},
		{".max_usage_in_bytes", &e.Max},
		{".limit_in_bytes", &e.Limit},
		{".failcnt", &e.Failcnt},
	}
	for _, f := range files {
		*f.dst, err = cgroups.ReadUint(dir, prefix+f.suffix)
		if err != nil {
			return cgroups.MemoryEntry{}, err
		}
	}
	return e, nil
}
