package fs2

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

// setters write one group of resources each, in this order.
var setters = []func(dir string, r *specs.LinuxResources) error{
	setPids, setMemory, setCPU, setCpuset, setIO, setHugetlb, setRdma,
	setUnified,
}

// statters read one group of counters each.
var statters = []func(dir string, s *cgroups.Stats) error{
	statPids, statMemory, statCPU, statIO, statHugetlb, statRdma,
}

// needsController reports whether r sets any limit, which a cgroup we
// cannot create or join would leave unenforced.
func needsController(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	return r.Memory != nil && (r.Memory.Limit != nil ||
		r.Memory.Reservation != nil || r.Memory.Swap != nil) ||
		r.CPU != nil && (r.CPU.Shares != nil || r.CPU.Quota != nil ||
			r.CPU.Period != nil || r.CPU.Burst != nil ||
			r.CPU.Idle != nil || r.CPU.Cpus != "" || r.CPU.Mems != "") ||
		r.Pids != nil && r.Pids.Limit != 0 ||
		r.BlockIO != nil || len(r.HugepageLimits) > 0 ||
		len(r.Rdma) > 0 || len(r.Unified) > 0
}
