package fs

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

type netClsGroup struct{}

func (netClsGroup) name() string { return "net_cls" }

func (netClsGroup) needed(r *specs.LinuxResources) bool {
	return r.Network != nil && r.Network.ClassID != nil
}

func (netClsGroup) set(dir string, r *specs.LinuxResources) error {
	if r.Network == nil || r.Network.ClassID == nil {
		return nil
	}
	return cgroups.WriteFile(dir, "net_cls.classid",
		cgroups.FormatUint(uint64(*r.Network.ClassID)))
}

func (netClsGroup) stat(string, *cgroups.Stats) error { return nil }

type netPrioGroup struct{}

func (netPrioGroup) name() string { return "net_prio" }

func (netPrioGroup) needed(r *specs.LinuxResources) bool {
	return r.Network != nil && len(r.Network.Priorities) > 0
}

// set writes one "IFNAME PRIO" line per interface to net_prio.ifpriomap.
func (netPrioGroup) set(dir string, r *specs.LinuxResources) error {
	if r.Network == nil {
		return nil
	}
	for _, p := range r.Network.Priorities {
		err := cgroups.WriteFile(dir, "net_prio.ifpriomap",
			fmt.Sprintf("%s %d", p.Name, p.Priority))
		if err != nil {
			return err
		}
	}
	return nil
}

func (netPrioGroup) stat(string, *cgroups.Stats) error { return nil }

// joinOnly is a hierarchy that the container joins but that has no
// settings here: perf_event, misc, name=systemd.
type joinOnly string

func (j joinOnly) name() string                          { return string(j) }
func (joinOnly) needed(*specs.LinuxResources) bool       { return false }
func (joinOnly) set(string, *specs.LinuxResources) error { return nil }
func (joinOnly) stat(string, *cgroups.Stats) error       { return nil }
