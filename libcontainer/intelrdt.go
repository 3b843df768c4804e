package libcontainer

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/intelrdt"
)

// ErrNoIntelRdt is returned for a resctrl operation on a container whose
// config has no linux.intelRdt.
var ErrNoIntelRdt = errors.New("container has no Intel RDT group")

// newIntelRdt returns the resctrl manager for a new container, checked
// against the host, or nil when its config does not ask for Intel RDT:
// then nothing about resctrl is looked at.
func newIntelRdt(cfg *configs.Config, id string) (*intelrdt.Manager, error) {
	if cfg == nil || cfg.IntelRdt == nil {
		return nil, nil
	}
	return intelrdt.New(cfg.IntelRdt, id)
}

// intelRdtManager returns the resctrl manager of the container, nil when
// its config has no intelRdt.
func (c *Container) intelRdtManager() (*intelrdt.Manager, error) {
	cfg := c.state.Config
	if cfg == nil || cfg.IntelRdt == nil {
		return nil, nil
	}
	return intelrdt.Load(cfg.IntelRdt, c.ID)
}

// IntelRdtStats reads the resctrl figures of the container's group.
func (c *Container) IntelRdtStats() (*intelrdt.Stats, error) {
	rdt, err := c.intelRdtManager()
	if err != nil {
		return nil, err
	}
	if rdt == nil {
		return nil, ErrNoIntelRdt
	}
	st, err := rdt.Stats()
	if err != nil {
		return nil, fmt.Errorf("Intel RDT stats of %s: %w", c.ID, err)
	}
	return st, nil
}

// UpdateIntelRdt writes new L3 cache and memory bandwidth schemata (an
// empty one is left as it is) to the container's resctrl group and
// records them. A container created without intelRdt gets a group named
// by its id first, with its init in it, as runc's update does.
//
// TODO: only init joins a group made here, not processes it started
// before; resctrl moves one thread per write and the container's
// threads are not enumerated.
func (c *Container) UpdateIntelRdt(l3CacheSchema, memBwSchema string) error {
	if l3CacheSchema == "" && memBwSchema == "" {
		return nil
	}
	lk, err := lock(c.dir)
	if err != nil {
		return err
	}
	defer lk.Close()

	status, err := c.Status()
	if err != nil {
		return err
	}
	if status == Stopped || status == Creating {
		return fmt.Errorf("cannot update container %s: %w", c.ID,
			ErrNotRunning)
	}
	cfg := c.state.Config
	rdtCfg := cfg.IntelRdt
	if rdtCfg == nil {
		rdtCfg = &specs.LinuxIntelRdt{L3CacheSchema: l3CacheSchema,
			MemBwSchema: memBwSchema}
	}
	rdt, err := intelrdt.New(rdtCfg, c.ID)
	if err != nil {
		return err
	}
	if cfg.IntelRdt == nil {
		if err := rdt.Apply(c.state.InitPid); err != nil {
			return err
		}
	} else if err := rdt.Update(l3CacheSchema, memBwSchema); err != nil {
		return err
	}
	cfg.IntelRdt = rdt.Config()
	if err := writeState(c.dir, c.state); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
