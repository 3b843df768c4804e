// Package fs is the cgroup v1 driver: one directory per mounted hierarchy,
// limits written to the controllers' files.
//
// It does not decide whether the host is v1 (see package manager) and it
// does not talk to systemd.
//
// On a hybrid host (cgroup2 at /sys/fs/cgroup/unified) the container also
// gets a directory there, under the key "" of Paths: hugetlb is set there
// when no v1 hierarchy has it, and Kill uses its cgroup.kill.
//
// BUG(towel): a device rule update that changes the default verdict
// (allow-all to deny-all or back) has to reset devices.list, so the
// container sees deny-all (or allow-all) for the moment it takes to write
// the new exceptions. Updates that keep the default write only the
// difference.
//
// BUG(towel): v1 freezing is asynchronous and Freeze polls freezer.state
// until it reads FROZEN, for at most about a second of retries.
package fs

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// subsystem is one v1 controller.
type subsystem interface {
	// name is the controller's key in Paths.
	name() string
	// needed reports whether r sets anything this controller must write.
	needed(r *specs.LinuxResources) bool
	// set writes r's fields for this controller to dir.
	set(dir string, r *specs.LinuxResources) error
	// stat adds this controller's counters in dir to s.
	stat(dir string, s *cgroups.Stats) error
}

// Manager is a container's cgroup on a v1 host. It is safe for use by
// several goroutines.
type Manager struct {
	mu       sync.Mutex
	cfg      *configs.Cgroup
	paths    map[string]string
	rootless bool
}

var _ cgroups.Manager = (*Manager)(nil)

// NewManager returns a manager for the cgroup directories in paths (as
// Paths computes them, or as a previous Manager's Paths() returned them).
// With rootless set, Apply skips the hierarchies it may not write to when
// cfg.Path is empty, as runc does.
func NewManager(cfg *configs.Cgroup, paths map[string]string,
	rootless bool) *Manager {

	p := make(map[string]string, len(paths))
	for k, v := range paths {
		p[k] = v
	}
	return &Manager{cfg: cfg, paths: p, rootless: rootless}
}

// Apply creates the cgroup in every hierarchy and moves pid into it.
func (m *Manager) Apply(pid int) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	for _, name := range append(append([]string{}, subsystemNames...), "") {
		dir, ok := m.paths[name]
		if !ok {
			continue
		}
		err := applyDir(name, dir, pid)
		if err == nil {
			continue
		}
		// Rootless without an explicit cgroupsPath: a hierarchy we may
		// not write to is skipped; Set fails later if it has limits for it.
		if m.rootless && m.cfg.Path == "" && cgroups.IsPermission(err) {
			delete(m.paths, name)
			continue
		}
		// The unified hierarchy of a hybrid host is a bonus: only
		// hugetlb limits and cgroup.kill need it.
		if name == "" {
			delete(m.paths, name)
			continue
		}
		return err
	}
	return nil
}

func applyDir(name, dir string, pid int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if name == "cpuset" {
		if err := initCpuset(dir); err != nil {
			return err
		}
	}
	if name == "" {
		if err := enableHugetlb(dir); err != nil {
			return err
		}
	}
	return cgroups.WriteProcs(dir, pid)
}

// Set writes every resource r sets.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	// Check what can be checked before writing anything, so bad input
	// leaves the cgroup as it was.
	if err := cgroups.ValidateResources(r, false); err != nil {
		return err
	}
	if err := m.precheck(r); err != nil {
		return err
	}
	for _, sys := range subsystems {
		dir, ok := m.paths[sys.name()]
		// As runc: a rootless container's device rules are best effort,
		// the user namespace already keeps it from devices.
		rootlessDevices := m.rootless && sys.name() == "devices"
		if !ok {
			if sys.needed(r) && !rootlessDevices {
				if h, ok := m.paths[""]; ok && sys.name() == "hugetlb" {
					if err := setHugetlbV2(h, r); err != nil {
						return err
					}
					continue
				}
				return fmt.Errorf("cannot set %s limit: %w",
					sys.name(), cgroups.ErrNoCgroup)
			}
			continue
		}
		if err := sys.set(dir, r); err != nil && !rootlessDevices {
			return err
		}
	}
	return nil
}

// Freeze freezes or thaws the cgroup through the freezer hierarchy.
func (m *Manager) Freeze(frozen bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	dir, ok := m.paths["freezer"]
	if !ok {
		return fmt.Errorf("freeze cgroup: %w", cgroups.ErrNoCgroup)
	}
	return setFreezer(dir, frozen)
}

// Frozen reports whether the freezer state is FROZEN.
func (m *Manager) Frozen() (bool, error) {
	m.mu.Lock()
	dir, ok := m.paths["freezer"]
	m.mu.Unlock()
	if !ok {
		return false, nil
	}
	state, err := freezerState(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return state == "FROZEN", nil
}

// procsDir is the hierarchy whose cgroup.procs lists the container's
// processes: devices as runc, then any other joined one.
func (m *Manager) procsDir() string {
	for _, name := range append([]string{"devices", "freezer"},
		subsystemNames...) {
		if dir, ok := m.paths[name]; ok {
			return dir
		}
	}
	return ""
}

// Pids lists the processes in the cgroup and below it.
func (m *Manager) Pids() ([]int, error) {
	m.mu.Lock()
	dir := m.procsDir()
	m.mu.Unlock()
	if dir == "" {
		return nil, nil
	}
	return cgroups.ReadAllProcs(dir)
}

// Kill sends SIGKILL to every process in the cgroup. On a hybrid host
// whose cgroup2 directory was joined, cgroup.kill there does it at once;
// otherwise the cgroup is frozen so no process can fork a new one
// unseen, every process is signalled, and the cgroup is thawed so the
// signals are delivered.
func (m *Manager) Kill() error {
	m.mu.Lock()
	unified, hasUnified := m.paths[""]
	freezer, hasFreezer := m.paths["freezer"]
	dir := m.procsDir()
	m.mu.Unlock()

	if hasUnified {
		err := cgroups.WriteFile(unified, "cgroup.kill", "1")
		if err == nil || errors.Is(err, unix.ENOENT) && !dirExists(unified) {
			return nil
		}
	}
	if dir == "" {
		return nil
	}
	if hasFreezer {
		if err := setFreezer(freezer, true); err != nil &&
			!errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("kill: %w", err)
		}
		defer setFreezer(freezer, false) //nolint:errcheck // best effort
	}
	return killAll(dir)
}

func dirExists(dir string) bool {
	_, err := os.Stat(dir)
	return err == nil
}

// killAll sends SIGKILL to every pid in dir and below. A pid that is gone
// already is not an error.
func killAll(dir string) error {
	pids, err := cgroups.ReadAllProcs(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("kill: %w", err)
	}
	var errs []error
	for _, pid := range pids {
		err := unix.Kill(pid, unix.SIGKILL)
		if err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill pid %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// Stats reads every joined controller's counters.
func (m *Manager) Stats() (*cgroups.Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	s := cgroups.NewStats()
	for _, sys := range subsystems {
		dir, ok := m.paths[sys.name()]
		if !ok {
			if h, ok := m.paths[""]; ok && sys.name() == "hugetlb" {
				if err := statHugetlbV2(h, s); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := sys.stat(dir, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Destroy removes the cgroup from every hierarchy.
func (m *Manager) Destroy() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cgroups.RemovePaths(m.paths)
}

// Paths returns a copy of the per-hierarchy directories.
func (m *Manager) Paths() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := make(map[string]string, len(m.paths))
	for k, v := range m.paths {
		p[k] = v
	}
	return p
}

// Path returns one hierarchy's directory, or "".
func (m *Manager) Path(controller string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paths[controller]
}

// precheck refuses, before anything is written, what depends on the
// cgroup: page sizes, a memory limit below the current usage.
func (m *Manager) precheck(r *specs.LinuxResources) error {
	if len(r.HugepageLimits) > 0 {
		dir, suffix := m.paths["hugetlb"], ".limit_in_bytes"
		if dir == "" {
			dir, suffix = m.paths[""], ".max"
		}
		for _, h := range r.HugepageLimits {
			_, err := os.Stat(dir + "/hugetlb." + h.Pagesize + suffix)
			if dir != "" && err != nil {
				return fmt.Errorf("hugepageLimits: page size %q is not "+
					"supported by this kernel", h.Pagesize)
			}
		}
	}
	if mem := r.Memory; mem != nil && mem.CheckBeforeUpdate != nil &&
		*mem.CheckBeforeUpdate && mem.Limit != nil && *mem.Limit > 0 {
		if dir, ok := m.paths["memory"]; ok {
			err := checkUsage(dir, "memory.usage_in_bytes", *mem.Limit)
			if err != nil {
				return err
			}
		}
	}
	return nil
}
