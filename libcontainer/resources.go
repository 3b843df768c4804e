package libcontainer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/devices"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// ErrNoCgroup is returned for an operation on the cgroup of a container
// that runs without one (rootless, without a delegated cgroup).
var ErrNoCgroup = errors.New("container has no cgroup")

// Processes lists the host pids of every process in the container's
// cgroup, sub-cgroups included.
func (c *Container) Processes() ([]int, error) {
	mgr, err := c.cgroupManager()
	if err != nil {
		return nil, err
	}
	if mgr == nil {
		return nil, ErrNoCgroup
	}
	pids, err := mgr.Pids()
	if errors.Is(err, os.ErrNotExist) {
		// Deleted under us: nothing runs there.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", c.ID, err)
	}
	return pids, nil
}

// Stats reads the usage counters of the container's cgroup.
func (c *Container) Stats() (*cgroups.Stats, error) {
	mgr, err := c.cgroupManager()
	if err != nil {
		return nil, err
	}
	if mgr == nil {
		return nil, ErrNoCgroup
	}
	st, err := mgr.Stats()
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", c.ID, err)
	}
	return st, nil
}

// NotifyOOM returns a channel that receives a value each time the kernel's
// OOM killer acts in the container's cgroup; see cgroups.NotifyOOM.
func (c *Container) NotifyOOM(ctx context.Context) (<-chan struct{}, error) {
	mgr, err := c.cgroupManager()
	if err != nil {
		return nil, err
	}
	if mgr == nil {
		return nil, ErrNoCgroup
	}
	return cgroups.NotifyOOM(ctx, mgr)
}

// Update changes the container's cgroup limits to those r sets (nil
// fields are left as they are) and records them in its state, so that a
// later update starts from them.
//
// Devices, unlike in runc, can be updated: a non-nil r.Devices replaces
// the config's device rules, and the container keeps its device nodes and
// the built-in allow list after them, as at create (see deviceRules).
//
// Values are checked before anything is written. If the kernel refuses
// one anyway, what was already written is put back as far as the previous
// config knew it, and the state is left unchanged.
func (c *Container) Update(r *specs.LinuxResources) error {
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
	mgr, err := c.cgroupManager()
	if err != nil {
		return err
	}
	if mgr == nil {
		return ErrNoCgroup
	}

	cfg := c.state.Config
	old := cfg.Cgroup.Resources
	if old == nil {
		old = &specs.LinuxResources{}
	}
	if r.Devices != nil {
		withDevices := *r
		withDevices.Devices = deviceRules(r.Devices, cfg.Devices)
		r = &withDevices
	}
	merged := mergeResources(old, r)
	v2 := cgroups.IsCgroup2UnifiedMode()
	if err := cgroups.ValidateResources(merged, v2); err != nil {
		return err
	}
	if err := checkResourceValues(merged); err != nil {
		return err
	}

	// Whole sections go to the driver: values depend on each other (CFS
	// quota and period, memory and memory+swap).
	if err := mgr.Set(touchedSections(merged, r)); err != nil {
		if rerr := mgr.Set(touchedSections(old, r)); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore limits: %w", rerr))
		}
		return fmt.Errorf("update %s: %w", c.ID, err)
	}
	cfg.Cgroup.Resources = merged
	if err := writeState(c.dir, c.state); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// mergeResources returns old with what r sets written over it; old is not
// changed.
func mergeResources(old, r *specs.LinuxResources) *specs.LinuxResources {
	m := *old
	if r.Memory != nil {
		mem := specs.LinuxMemory{}
		if old.Memory != nil {
			mem = *old.Memory
		}
		setInt64(&mem.Limit, r.Memory.Limit)
		setInt64(&mem.Reservation, r.Memory.Reservation)
		setInt64(&mem.Swap, r.Memory.Swap)
		// As runc: an unlimited memory without a word on swap lifts the
		// memory+swap limit too, which cgroup v1 needs.
		if r.Memory.Limit != nil && *r.Memory.Limit == -1 &&
			r.Memory.Swap == nil {
			unlimited := int64(-1)
			mem.Swap = &unlimited
		}
		setInt64(&mem.Kernel, r.Memory.Kernel)
		setInt64(&mem.KernelTCP, r.Memory.KernelTCP)
		if r.Memory.Swappiness != nil {
			mem.Swappiness = r.Memory.Swappiness
		}
		if r.Memory.DisableOOMKiller != nil {
			mem.DisableOOMKiller = r.Memory.DisableOOMKiller
		}
		if r.Memory.UseHierarchy != nil {
			mem.UseHierarchy = r.Memory.UseHierarchy
		}
		if r.Memory.CheckBeforeUpdate != nil {
			mem.CheckBeforeUpdate = r.Memory.CheckBeforeUpdate
		}
		m.Memory = &mem
	}
	if r.CPU != nil {
		cpu := specs.LinuxCPU{}
		if old.CPU != nil {
			cpu = *old.CPU
		}
		setUint64(&cpu.Shares, r.CPU.Shares)
		setInt64(&cpu.Quota, r.CPU.Quota)
		setUint64(&cpu.Burst, r.CPU.Burst)
		setUint64(&cpu.Period, r.CPU.Period)
		setInt64(&cpu.RealtimeRuntime, r.CPU.RealtimeRuntime)
		setUint64(&cpu.RealtimePeriod, r.CPU.RealtimePeriod)
		if r.CPU.Cpus != "" {
			cpu.Cpus = r.CPU.Cpus
		}
		if r.CPU.Mems != "" {
			cpu.Mems = r.CPU.Mems
		}
		if r.CPU.Idle != nil {
			cpu.Idle = r.CPU.Idle
		}
		m.CPU = &cpu
	}
	if r.Pids != nil && r.Pids.Limit != 0 {
		m.Pids = &specs.LinuxPids{Limit: r.Pids.Limit}
	}
	if r.BlockIO != nil {
		bio := specs.LinuxBlockIO{}
		if old.BlockIO != nil {
			bio = *old.BlockIO
		}
		if r.BlockIO.Weight != nil && *r.BlockIO.Weight != 0 {
			bio.Weight = r.BlockIO.Weight
		}
		if r.BlockIO.LeafWeight != nil && *r.BlockIO.LeafWeight != 0 {
			bio.LeafWeight = r.BlockIO.LeafWeight
		}
		if r.BlockIO.WeightDevice != nil {
			bio.WeightDevice = r.BlockIO.WeightDevice
		}
		if r.BlockIO.ThrottleReadBpsDevice != nil {
			bio.ThrottleReadBpsDevice = r.BlockIO.ThrottleReadBpsDevice
		}
		if r.BlockIO.ThrottleWriteBpsDevice != nil {
			bio.ThrottleWriteBpsDevice = r.BlockIO.ThrottleWriteBpsDevice
		}
		if r.BlockIO.ThrottleReadIOPSDevice != nil {
			bio.ThrottleReadIOPSDevice = r.BlockIO.ThrottleReadIOPSDevice
		}
		if r.BlockIO.ThrottleWriteIOPSDevice != nil {
			bio.ThrottleWriteIOPSDevice = r.BlockIO.ThrottleWriteIOPSDevice
		}
		m.BlockIO = &bio
	}
	if r.HugepageLimits != nil {
		m.HugepageLimits = r.HugepageLimits
	}
	if r.Rdma != nil {
		m.Rdma = r.Rdma
	}
	if r.Devices != nil {
		m.Devices = r.Devices
	}
	if r.Unified != nil {
		u := make(map[string]string, len(old.Unified)+len(r.Unified))
		for k, v := range old.Unified {
			u[k] = v
		}
		for k, v := range r.Unified {
			u[k] = v
		}
		m.Unified = u
	}
	return &m
}

// setInt64 and setUint64 copy a value that is set and not 0: runc's
// update reads 0 as "leave as it is".
func setInt64(dst **int64, v *int64) {
	if v != nil && *v != 0 {
		n := *v
		*dst = &n
	}
}

func setUint64(dst **uint64, v *uint64) {
	if v != nil && *v != 0 {
		n := *v
		*dst = &n
	}
}

// touchedSections returns the sections of from that r touches.
func touchedSections(from, r *specs.LinuxResources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if r.Memory != nil {
		out.Memory = from.Memory
	}
	if r.CPU != nil {
		out.CPU = from.CPU
	}
	if r.Pids != nil {
		out.Pids = from.Pids
	}
	if r.BlockIO != nil {
		out.BlockIO = from.BlockIO
	}
	if r.HugepageLimits != nil {
		out.HugepageLimits = from.HugepageLimits
	}
	if r.Rdma != nil {
		out.Rdma = from.Rdma
	}
	if r.Unified != nil {
		out.Unified = from.Unified
	}
	if r.Devices != nil {
		out.Devices = from.Devices
	}
	return out
}

// deviceRules completes device rules from an update as specconv does at
// create: the container's device nodes are allowed after them, then the
// built-in allow list, so that an update cannot take /dev/null away.
func deviceRules(rules []specs.LinuxDeviceCgroup,
	nodes []*configs.Device) []specs.LinuxDeviceCgroup {

	out := append([]specs.LinuxDeviceCgroup{}, rules...)
	for _, d := range nodes {
		major, minor := d.Major, d.Minor
		out = append(out, specs.LinuxDeviceCgroup{Allow: true,
			Type: string(d.Type), Major: &major, Minor: &minor,
			Access: "rwm"})
	}
	return append(out, devices.DefaultAllowRules()...)
}

// checkResourceValues refuses what the kernel would refuse half-way
// through an update: negative sizes other than -1 (unlimited), CPUs and
// memory nodes this host does not have.
func checkResourceValues(r *specs.LinuxResources) error {
	if mem := r.Memory; mem != nil {
		for _, f := range []struct {
			name string
			v    *int64
		}{
			{"memory.limit", mem.Limit},
			{"memory.reservation", mem.Reservation},
			{"memory.swap", mem.Swap},
		} {
			if f.v != nil && *f.v < -1 {
				return fmt.Errorf("invalid %s %d: must be positive or "+
					"-1 (unlimited)", f.name, *f.v)
			}
		}
	}
	if p := r.Pids; p != nil && p.Limit < -1 {
		return fmt.Errorf("invalid pids.limit %d: must be positive or "+
			"-1 (unlimited)", p.Limit)
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Quota != nil && *cpu.Quota < -1 {
			return fmt.Errorf("invalid cpu.quota %d: must be positive "+
				"or -1 (unlimited)", *cpu.Quota)
		}
		if cpu.Cpus != "" {
			err := checkCPUList("cpu.cpus", cpu.Cpus,
				"/sys/devices/system/cpu/online")
			if err != nil {
				return err
			}
		}
		if cpu.Mems != "" {
			err := checkCPUList("cpu.mems", cpu.Mems,
				"/sys/devices/system/node/online")
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// checkCPUList checks that list, in the kernel's list format ("0-3,5";
// see cpuset(7), "FORMATS"), only names members of the list in file.
func checkCPUList(name, list, file string) error {
	want, err := parseCPUList(list)
	if err != nil {
		return fmt.Errorf("invalid %s %q: %w", name, list, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		// No way to tell (a kernel without NUMA has no node/online):
		// leave it to the kernel.
		return nil
	}
	have, err := parseCPUList(strings.TrimSpace(string(data)))
	if err != nil {
		return nil
	}
	for n := range want {
		if !have[n] {
			return fmt.Errorf("invalid %s %q: %d is not online on this "+
				"host (online: %s)", name, list, n,
				strings.TrimSpace(string(data)))
		}
	}
	return nil
}

// parseCPUList parses a cpuset list into the set of its numbers.
func parseCPUList(list string) (map[int]bool, error) {
	set := make(map[int]bool)
	if list == "" {
		return set, nil
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			return nil, fmt.Errorf("bad number %q", lo)
		}
		last := first
		if isRange {
			last, err = strconv.Atoi(hi)
			if err != nil || last < first {
				return nil, fmt.Errorf("bad range %q", part)
			}
		}
		if last-first > 1<<16 {
			return nil, fmt.Errorf("range %q too large", part)
		}
		for n := first; n <= last; n++ {
			set[n] = true
		}
	}
	return set, nil
}
