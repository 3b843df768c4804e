package fs

import (
	"errors"
	"math"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

type pidsGroup struct{}

func (pidsGroup) name() string { return "pids" }

func (pidsGroup) needed(r *specs.LinuxResources) bool {
	return r.Pids != nil && r.Pids.Limit != 0
}

func (pidsGroup) set(dir string, r *specs.LinuxResources) error {
	if v := cgroups.PidsLimit(r.Pids); v != "" {
		return cgroups.WriteFile(dir, "pids.max", v)
	}
	return nil
}

func (pidsGroup) stat(dir string, s *cgroups.Stats) error {
	cur, err := cgroups.ReadUint(dir, "pids.current")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	max, err := cgroups.ReadUint(dir, "pids.max")
	if err != nil {
		return err
	}
	if max == math.MaxUint64 {
		max = 0 // "max": no limit
	}
	s.Pids.Current, s.Pids.Limit = cur, max
	return nil
}
