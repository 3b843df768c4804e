package fs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

type cpusetGroup struct{}

func (cpusetGroup) name() string { return "cpuset" }

func (cpusetGroup) needed(r *specs.LinuxResources) bool {
	return r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != "")
}

func (cpusetGroup) set(dir string, r *specs.LinuxResources) error {
	if r.CPU == nil {
		return nil
	}
	if r.CPU.Cpus != "" {
		if err := cgroups.WriteFile(dir, "cpuset.cpus", r.CPU.Cpus); err != nil {
			return err
		}
	}
	if r.CPU.Mems != "" {
		if err := cgroups.WriteFile(dir, "cpuset.mems", r.CPU.Mems); err != nil {
			return err
		}
	}
	return nil
}

// initCpuset fills a new cpuset cgroup's cpus and mems from its parent:
// v1 leaves them empty, and a cgroup with no CPU or no memory node takes
// no tasks (ENOSPC). Empty parents, made by the same MkdirAll, are filled
// first.
func initCpuset(dir string) error {
	for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
		if err := inheritCpuset(dir, file); err != nil {
			return err
		}
	}
	return nil
}

func inheritCpuset(dir, file string) error {
	cur, err := cgroups.ReadFile(dir, file)
	if err != nil {
		return err
	}
	if strings.TrimSpace(cur) != "" {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent == dir {
		return fmt.Errorf("init %s: no cpuset above %s", file, dir)
	}
	if err := inheritCpuset(parent, file); err != nil {
		return err
	}
	val, err := cgroups.ReadFile(parent, file)
	if err != nil {
		return err
	}
	return cgroups.WriteFile(dir, file, strings.TrimSpace(val))
}

func (cpusetGroup) stat(dir string, s *cgroups.Stats) error {
	cpus, err := cgroups.ReadFile(dir, "cpuset.cpus")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if s.CPUSet.CPUs, err = ParseCPUList(cpus); err != nil {
		return err
	}
	mems, err := cgroups.ReadFile(dir, "cpuset.mems")
	if err != nil {
		return err
	}
	if s.CPUSet.Mems, err = ParseCPUList(mems); err != nil {
		return err
	}
	flags := []struct {
		file string
		dst  *uint64
	}{
		{"cpuset.cpu_exclusive", &s.CPUSet.CPUExclusive},
		{"cpuset.mem_exclusive", &s.CPUSet.MemExclusive},
		{"cpuset.mem_hardwall", &s.CPUSet.MemHardwall},
		{"cpuset.memory_migrate", &s.CPUSet.MemoryMigrate},
		{"cpuset.memory_pressure", &s.CPUSet.MemoryPressure},
		{"cpuset.memory_spread_page", &s.CPUSet.MemorySpreadPage},
		{"cpuset.memory_spread_slab", &s.CPUSet.MemorySpreadSlab},
		{"cpuset.sched_load_balance", &s.CPUSet.SchedLoadBalance},
	}
	for _, f := range flags {
		// Not every kernel has every flag; a missing one reads 0.
		if v, err := cgroups.ReadUint(dir, f.file); err == nil {
			*f.dst = v
		}
	}
	if v, err := cgroups.ReadFile(dir, "cpuset.sched_relax_domain_level"); err == nil {
		s.CPUSet.SchedRelaxDomainLevel, _ = strconv.ParseInt(
			strings.TrimSpace(v), 10, 64)
	}
	return nil
}

// ParseCPUList parses a cpu or node list such as "0-3,8,10-11" (see
// "List format" in cpuset(7)).
func ParseCPUList(list string) ([]uint16, error) {
	var out []uint16
	list = strings.TrimSpace(list)
	if list == "" {
		return nil, nil
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("parse cpu list %q: %w", list, err)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return nil, fmt.Errorf("parse cpu list %q: %w", list, err)
			}
		}
		if last < first {
			return nil, fmt.Errorf("parse cpu list %q: range %s is "+
				"backwards", list, part)
		}
		for i := first; i <= last; i++ {
			out = append(out, uint16(i))
		}
	}
	return out, nil
}
