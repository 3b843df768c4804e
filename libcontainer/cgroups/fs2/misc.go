package fs2

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/devices"
)

func setCpuset(dir string, r *specs.LinuxResources) error {
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

// setHugetlb writes hugetlb.SIZE.max and, where the kernel has
// reservation accounting (Linux 5.7), hugetlb.SIZE.rsvd.max: the spec's
// limit is on reservations where supported.
func setHugetlb(dir string, r *specs.LinuxResources) error {
	for _, h := range r.HugepageLimits {
		v := cgroups.FormatUint(h.Limit)
		prefix := "hugetlb." + h.Pagesize
		if err := cgroups.WriteFile(dir, prefix+".max", v); err != nil {
			return err
		}
		err := cgroups.WriteFile(dir, prefix+".rsvd.max", v)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func statHugetlb(dir string, s *cgroups.Stats) error {
	for _, size := range cgroups.HugePageSizes() {
		prefix := "hugetlb." + size
		usage, err := cgroups.ReadUint(dir, prefix+".current")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return err
		}
		var failcnt uint64
		if ev, err := cgroups.ReadKeyValues(dir, prefix+".events"); err == nil {
			failcnt = ev["max"]
		}
		s.Hugetlb[size] = cgroups.HugetlbStats{Usage: usage, Failcnt: failcnt}
	}
	return nil
}

func setRdma(dir string, r *specs.LinuxResources) error {
	return cgroups.SetRdma(dir, r.Rdma)
}

func statRdma(dir string, s *cgroups.Stats) error {
	return cgroups.StatRdma(dir, s)
}

// forbiddenUnified are cgroup core files that move or kill processes:
// writing them is not a resource setting.
var forbiddenUnified = map[string]bool{
	"cgroup.procs": true, "cgroup.threads": true, "cgroup.kill": true,
	"cgroup.subtree_control": true,
}

// setUnified writes linux.resources.unified. Every key is checked first,
// so a bad one changes nothing: it must be a plain file name of the form
// CONTROLLER.PARAMETER, and the controller must be enabled in the cgroup
// (listed in cgroup.controllers). A multi-line value is written a line
// at a time, as the kernel parses one entry per write.
func setUnified(dir string, r *specs.LinuxResources) error {
	if err := checkUnified(dir, r); err != nil {
		return err
	}
	keys := sortedKeys(r.Unified)
	for _, k := range keys {
		for _, line := range strings.Split(r.Unified[k], "\n") {
			if line == "" && strings.Contains(r.Unified[k], "\n") {
				continue
			}
			if err := cgroups.WriteFile(dir, k, line); err != nil {
				return fmt.Errorf("linux.resources.unified: %w", err)
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// precheck refuses, before anything is written, what depends on the
// cgroup: unified keys, page sizes, a limit below the current usage.
func precheck(dir string, r *specs.LinuxResources) error {
	if err := checkUnified(dir, r); err != nil {
		return err
	}
	for _, h := range r.HugepageLimits {
		if _, err := os.Stat(dir + "/hugetlb." + h.Pagesize + ".max"); err != nil {
			return fmt.Errorf("hugepageLimits: page size %q is not "+
				"supported here (no hugetlb.%s.max)", h.Pagesize, h.Pagesize)
		}
	}
	if m := r.Memory; m != nil && m.CheckBeforeUpdate != nil &&
		*m.CheckBeforeUpdate && m.Limit != nil && *m.Limit > 0 {
		usage, err := cgroups.ReadUint(dir, "memory.current")
		if err == nil && usage > uint64(*m.Limit) {
			return fmt.Errorf("memory limit %d is below current usage "+
				"%d (memory.checkBeforeUpdate is set)", *m.Limit, usage)
		}
	}
	return nil
}

// checkUnified checks linux.resources.unified against the cgroup dir.
func checkUnified(dir string, r *specs.LinuxResources) error {
	if len(r.Unified) == 0 {
		return nil
	}
	ctlList, err := cgroups.ReadFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	enabled := make(map[string]bool)
	for _, c := range strings.Fields(ctlList) {
		enabled[c] = true
	}
	for _, k := range sortedKeys(r.Unified) {
		if strings.ContainsAny(k, "/\x00") || k == "." || k == ".." {
			return fmt.Errorf("linux.resources.unified: key %q must be a "+
				"file name", k)
		}
		ctl, _, ok := strings.Cut(k, ".")
		if !ok || ctl == "" {
			return fmt.Errorf("linux.resources.unified: key %q is not of "+
				"the form CONTROLLER.PARAMETER", k)
		}
		if forbiddenUnified[k] {
			return fmt.Errorf("linux.resources.unified: key %q is not a "+
				"resource", k)
		}
		// The core "cgroup." files and cpu.stat-like files of always-on
		// controllers exist without being listed.
		if ctl != "cgroup" && !enabled[ctl] {
			return fmt.Errorf("linux.resources.unified: key %q: "+
				"controller %q is not enabled in %s", k, ctl, dir)
		}
		if _, err := os.Stat(dir + "/" + k); err != nil {
			return fmt.Errorf("linux.resources.unified: key %q: no such "+
				"cgroup file in %s", k, dir)
		}
	}
	return nil
}

// setDevices replaces the cgroup's eBPF device filter with one for
// r.Devices. Nil devices leave the filter as it is.
func setDevices(dir string, r *specs.LinuxResources) error {
	if r.Devices == nil {
		return nil
	}
	rules, err := devices.FromSpec(r.Devices)
	if err != nil {
		return err
	}
	return devices.SetV2(dir, rules)
}
