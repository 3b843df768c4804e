package fs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/devices"
)

type devicesGroup struct{}

func (devicesGroup) name() string { return "devices" }

func (devicesGroup) needed(r *specs.LinuxResources) bool {
	return r.Devices != nil
}

// set brings devices.list to what r.Devices amount to, writing only the
// difference (see devices.V1Writes).
func (devicesGroup) set(dir string, r *specs.LinuxResources) error {
	if r.Devices == nil {
		return nil
	}
	rules, err := devices.FromSpec(r.Devices)
	if err != nil {
		return err
	}
	list, err := cgroups.ReadFile(dir, "devices.list")
	if err != nil {
		return err
	}
	cur, err := devices.ParseV1List(list)
	if err != nil {
		return err
	}
	for _, w := range devices.V1Writes(cur, devices.Compute(rules)) {
		if err := cgroups.WriteFile(dir, w.File, w.Line); err != nil {
			return err
		}
	}
	return nil
}

func (devicesGroup) stat(string, *cgroups.Stats) error { return nil }
