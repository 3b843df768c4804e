package fs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

// subsystems are the controllers Set and Stats visit, in the order they
// are written.
var subsystems = []subsystem{
	cpusetGroup{}, memoryGroup{}, cpuGroup{}, cpuacctGroup{}, pidsGroup{},
	freezerGroup{},
}

// checkUnified refuses linux.resources.unified: its keys are cgroup2
// files, which a v1 host does not have.
func checkUnified(r *specs.LinuxResources) error {
	if len(r.Unified) > 0 {
		return errUnifiedOnV1
	}
	return nil
}

func enableHugetlb(string) error                       { return nil }
func setHugetlbV2(string, *specs.LinuxResources) error { return nil }
func statHugetlbV2(string, *cgroups.Stats) error       { return nil }
