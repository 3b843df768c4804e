package fs

import (
	"errors"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

type hugetlbGroup struct{}

func (hugetlbGroup) name() string { return "hugetlb" }

func (hugetlbGroup) needed(r *specs.LinuxResources) bool {
	return len(r.HugepageLimits) > 0
}

// set writes hugetlb.SIZE.limit_in_bytes and, where the kernel has
// reservation accounting (Linux 5.7), hugetlb.SIZE.rsvd.limit_in_bytes
// too: the spec's limit is on reservations where supported.
func (hugetlbGroup) set(dir string, r *specs.LinuxResources) error {
	return setHugetlb(dir, r, ".limit_in_bytes")
}

func setHugetlb(dir string, r *specs.LinuxResources, suffix string) error {
	for _, h := range r.HugepageLimits {
		v := cgroups.FormatUint(h.Limit)
		prefix := "hugetlb." + h.Pagesize
		if err := cgroups.WriteFile(dir, prefix+suffix, v); err != nil {
			return err
		}
		err := cgroups.WriteFile(dir, prefix+".rsvd"+suffix, v)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (hugetlbGroup) stat(dir string, s *cgroups.Stats) error {
	for _, size := range cgroups.HugePageSizes() {
		prefix := "hugetlb." + size
		usage, err := cgroups.ReadUint(dir, prefix+".usage_in_bytes")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return err
		}
		max, _ := cgroups.ReadUint(dir, prefix+".max_usage_in_bytes")
		failcnt, _ := cgroups.ReadUint(dir, prefix+".failcnt")
		s.Hugetlb[size] = cgroups.HugetlbStats{Usage: usage, Max: max,
			Failcnt: failcnt}
	}
	return nil
}

// The unified hierarchy of a hybrid host holds the hugetlb controller
// when no v1 hierarchy has it (as on hosts that mount only some
// controllers as v1). These write and read its v2 files.

// enableHugetlb enables hugetlb from the unified root down to dir's
// parent, if the root has it at all.
func enableHugetlb(dir string) error {
	ctls, err := cgroups.ReadFile(hybridMountpoint, "cgroup.controllers")
	if err != nil || !containsWord(ctls, "hugetlb") {
		return nil
	}
	var parents []string
	for p := dir; p != hybridMountpoint && p != "/"; {
		p = filepath.Dir(p)
		parents = append([]string{p}, parents...)
	}
	for _, p := range parents {
		if err := cgroups.WriteFile(p, "cgroup.subtree_control",
			"+hugetlb"); err != nil {
			return err
		}
	}
	return nil
}

func setHugetlbV2(dir string, r *specs.LinuxResources) error {
	return setHugetlb(dir, r, ".max")
}

func statHugetlbV2(dir string, s *cgroups.Stats) error {
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
