package fs2

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

// memoryValue turns a v1-style byte count into a v2 file value: -1 is
// "max", 0 means unset ("").
func memoryValue(v *int64) string {
	switch {
	case v == nil || *v == 0:
		return ""
	case *v == -1:
		return "max"
	}
	return cgroups.FormatInt(*v)
}

func setMemory(dir string, r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	var limit, swap int64
	if m.Limit != nil {
		limit = *m.Limit
	}
	if m.Swap != nil {
		swap = *m.Swap
	}
	swapVal, err := cgroups.ConvertMemorySwapToV2(swap, limit)
	if err != nil {
		return err
	}
	// Never write "" to memory.swap.max: the kernel reads it as 0.
	if swapVal != "" {
		err := cgroups.WriteFile(dir, "memory.swap.max", swapVal)
		// Without swap accounting there is no file; lifting or zeroing a
		// limit that does not exist is nothing to do.
		if err != nil && !(errors.Is(err, os.ErrNotExist) &&
			(swapVal == "max" || swapVal == "0")) {
			return err
		}
	}
	if v := memoryValue(m.Limit); v != "" {
		if err := cgroups.WriteFile(dir, "memory.max", v); err != nil {
			return err
		}
	}
	if v := memoryValue(m.Reservation); v != "" {
		if err := cgroups.WriteFile(dir, "memory.low", v); err != nil {
			return err
		}
	}
	return nil
}

func statMemory(dir string, s *cgroups.Stats) error {
	raw, err := cgroups.ReadKeyValues(dir, "memory.stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // memory controller not enabled here
		}
		return err
	}
	s.Memory.Raw = raw
	s.Memory.Cache = raw["file"]
	s.Memory.UseHierarchy = true

	usage, err := memoryEntry(dir, "memory")
	if errors.Is(err, os.ErrNotExist) {
		// The root cgroup has memory.stat but no memory.current or
		// memory.max: its usage is what memory.stat accounts.
		return rootMemory(s)
	}
	if err != nil {
		return err
	}
	s.Memory.Usage = usage

	swap, err := memoryEntry(dir, "memory.swap")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s.Memory.SwapOnlyUsage = swap
	// runc 1.2's events print swap alone on v2, and memory+swap, the
	// v1 meaning, in its internal SwapUsage.
	s.Memory.Swap = swap
	s.Memory.SwapUsage = cgroups.MemoryEntry{
		Usage:   usage.Usage + swap.Usage,
		Limit:   addLimits(usage.Limit, swap.Limit),
		Failcnt: swap.Failcnt,
	}
	if ev, err := cgroups.ReadKeyValues(dir, "memory.events"); err == nil {
		s.Memory.Events = ev
	}
	s.Memory.PSI = readPSI(dir, "memory.pressure")
	return nil
}

func addLimits(a, b uint64) uint64 {
	if a == ^uint64(0) || b == ^uint64(0) || a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// rootMemory fills the usage of the root cgroup: anon + file pages of
// memory.stat, and swap from /proc/meminfo.
func rootMemory(s *cgroups.Stats) error {
	s.Memory.Usage = cgroups.MemoryEntry{
		Usage: s.Memory.Raw["anon"] + s.Memory.Raw["file"],
		Limit: ^uint64(0),
	}
	total, free, err := meminfoSwap()
	if err != nil {
		return err
	}
	swap := cgroups.MemoryEntry{Usage: total - free, Limit: ^uint64(0)}
	s.Memory.Swap = swap
	s.Memory.SwapOnlyUsage = swap
	s.Memory.SwapUsage = cgroups.MemoryEntry{
		Usage: s.Memory.Usage.Usage + swap.Usage,
		Limit: ^uint64(0),
	}
	return nil
}

// meminfoSwap returns SwapTotal and SwapFree of /proc/meminfo in bytes.
func meminfoSwap() (total, free uint64, err error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var key string
		var kb uint64
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &key, &kb); err != nil {
			continue
		}
		switch key {
		case "SwapTotal:":
			total = kb * 1024
		case "SwapFree:":
			free = kb * 1024
		}
	}
	if free > total {
		free = total
	}
	return total, free, sc.Err()
}

// memoryEntry reads PREFIX.current, PREFIX.max, PREFIX.peak (Linux 5.19,
// optional) and the "max" count of PREFIX.events as the failure count.
func memoryEntry(dir, prefix string) (cgroups.MemoryEntry, error) {
	var e cgroups.MemoryEntry
	var err error
	if e.Usage, err = cgroups.ReadUint(dir, prefix+".current"); err != nil {
		return e, err
	}
	if e.Limit, err = cgroups.ReadUint(dir, prefix+".max"); err != nil {
		return e, err
	}
	if v, err := cgroups.ReadUint(dir, prefix+".peak"); err == nil {
		e.Max = v
	}
	if ev, err := cgroups.ReadKeyValues(dir, prefix+".events"); err == nil {
		e.Failcnt = ev["max"]
		if prefix == "memory.swap" {
			e.Failcnt = ev["fail"]
		}
	}
	return e, nil
}

// readPSI parses a *.pressure file (see Documentation/accounting/psi.rst):
//
//	some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//
// nil when the file is missing or unreadable (no PSI in the kernel).
func readPSI(dir, file string) *cgroups.PSIStats {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil
	}
	var p cgroups.PSIStats
	for _, line := range strings.Split(string(data), "\n") {
		kind, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		var d *cgroups.PSIData
		switch kind {
		case "some":
			d = &p.Some
		case "full":
			d = &p.Full
		default:
			continue
		}
		_, err := fmt.Sscanf(rest, "avg10=%f avg60=%f avg300=%f total=%d",
			&d.Avg10, &d.Avg60, &d.Avg300, &d.Total)
		if err != nil {
			return nil
		}
	}
	return &p
}
