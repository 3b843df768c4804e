package fs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

type rdmaGroup struct{}

func (rdmaGroup) name() string { return "rdma" }

func (rdmaGroup) needed(r *specs.LinuxResources) bool { return len(r.Rdma) > 0 }

func (rdmaGroup) set(dir string, r *specs.LinuxResources) error {
	return cgroups.SetRdma(dir, r.Rdma)
}

func (rdmaGroup) stat(dir string, s *cgroups.Stats) error {
	return cgroups.StatRdma(dir, s)
}
