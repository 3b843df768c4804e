// Package fs2 is the cgroup v2 driver: one directory in the unified
// hierarchy, limits written to its interface files, device rules as an
// eBPF program.
//
// It does not decide whether the host is v2 (see package manager) and it
// does not talk to systemd.
//
// BUG(towel): for a rootless container, errors loading or attaching the
// device filter are ignored, as runc does: a user namespace cannot load
// BPF programs.
package fs2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// Manager is a container's cgroup on a v2 host. It is safe for use by
// several goroutines.
type Manager struct {
	mu       sync.Mutex
	cfg      *configs.Cgroup
	root     string // the cgroup2 mount, /sys/fs/cgroup
	dir      string
	rootless bool
	// skipped is set when a rootless Apply found the cgroup not
	// delegated to us and went on without one.
	skipped bool
}

var _ cgroups.Manager = (*Manager)(nil)

// NewManager returns a manager for the cgroup directory dir inside the
// cgroup2 mount root. An empty dir is a container that runs without a
// cgroup (rootless, not delegated): every operation but Set of a limit is
// then a no-op.
func NewManager(cfg *configs.Cgroup, root, dir string,
	rootless bool) *Manager {

	return &Manager{cfg: cfg, root: root, dir: dir, rootless: rootless,
		skipped: dir == ""}
}

// DirPath returns the directory of the container's cgroup under root (the
// cgroup2 mount): an absolute cgroupsPath from root, a relative one (or the
// container id when cgroupsPath is empty) from the parent of our own
// cgroup, because our own has processes in it and so can enable no
// controllers for a child.
func DirPath(root string, cfg *configs.Cgroup, id string,
	ownCgroup string) (string, error) {

	inner := cgroups.CleanPath(cfg.Path)
	if inner == "" {
		inner = cgroups.CleanPath(id)
	}
	if inner == "" || inner == "." || inner == "/" {
		return "", fmt.Errorf("cgroup path %q: names no cgroup", cfg.Path)
	}
	if filepath.IsAbs(inner) {
		return filepath.Join(root, inner), nil
	}
	return filepath.Join(root, filepath.Dir(ownCgroup), inner), nil
}

// Apply creates the cgroup, enabling every available controller on the
// way down, and moves pid into it.
func (m *Manager) Apply(pid int) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	err := createPath(m.root, m.dir)
	if err == nil {
		err = cgroups.WriteProcs(m.dir, pid)
	}
	if err == nil {
		return nil
	}
	if m.rootless && m.cfg.Path == "" && cgroups.IsPermission(err) {
		if needsController(m.cfg.Resources) {
			return fmt.Errorf("rootless container with limits needs a "+
				"cgroup delegated to the user: %w", err)
		}
		// Not delegated, and nothing to limit: go on without a cgroup.
		m.skipped = true
		return nil
	}
	return err
}

// createPath makes dir and enables in each cgroup above it the
// controllers that cgroup has, so dir gets them all.
func createPath(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is outside %s", dir, root)
	}
	cur := root
	elems := strings.Split(rel, "/")
	for _, elem := range elems {
		// A cgroup above a subtree delegated to the user is not the
		// user's to change (cgroup-v2.rst, "Delegation"): the mkdir
		// below says whether the user may go on.
		err := enableControllers(cur)
		if err != nil && !cgroups.IsPermission(err) {
			return err
		}
		cur = filepath.Join(cur, elem)
		if err := os.Mkdir(cur, 0o755); err != nil &&
			!errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create cgroup %s: %w", cur, err)
		}
	}
	return nil
}

// enableControllers writes every controller of dir to its
// cgroup.subtree_control. Writing all at once fails if one cannot be
// enabled (a threaded subtree, a controller in use by a v1 hierarchy),
// so on error each is tried alone and the failures are ignored: the
// limits that need them fail with a clear error later.
func enableControllers(dir string) error {
	s, err := cgroups.ReadFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	ctls := strings.Fields(s)
	if len(ctls) == 0 {
		return nil
	}
	all := "+" + strings.Join(ctls, " +")
	if err := cgroups.WriteFile(dir, "cgroup.subtree_control", all); err == nil {
		return nil
	} else if cgroups.IsPermission(err) {
		return err
	}
	for _, c := range ctls {
		_ = cgroups.WriteFile(dir, "cgroup.subtree_control", "+"+c)
	}
	return nil
}

// Set writes every resource r sets.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	if m.skipped {
		if needsController(r) {
			return fmt.Errorf("cannot set limits: %w", cgroups.ErrNoCgroup)
		}
		return nil
	}
	// Check what can be checked before writing anything, so bad input
	// leaves the cgroup as it was.
	if err := cgroups.ValidateResources(r, true); err != nil {
		return err
	}
	if err := precheck(m.dir, r); err != nil {
		return err
	}
	for _, set := range setters {
		if err := set(m.dir, r); err != nil {
			return err
		}
	}
	// As runc: a rootless container's device filter is best effort (a
	// user namespace cannot load BPF programs; its device nodes are
	// bind mounts that the user could open anyway).
	if err := setDevices(m.dir, r); err != nil && !m.rootless {
		return err
	}
	return nil
}

// Freeze freezes or thaws the cgroup (cgroup.freeze) and waits until
// cgroup.events reports it.
func (m *Manager) Freeze(frozen bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skipped {
		return fmt.Errorf("freeze cgroup: %w", cgroups.ErrNoCgroup)
	}
	return setFreeze(m.dir, frozen)
}

// Frozen reports whether the cgroup is frozen, by itself or by an
// ancestor.
func (m *Manager) Frozen() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skipped {
		return false, nil
	}
	frozen, err := isFrozen(m.dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return frozen, err
}

// Pids lists the processes in the cgroup and below it.
func (m *Manager) Pids() ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skipped {
		return nil, nil
	}
	return cgroups.ReadAllProcs(m.dir)
}

// killFile is cgroup.kill; tests point it elsewhere to take the path
// for kernels before 5.14.
var killFile = "cgroup.kill"

// Kill sends SIGKILL to every process in the cgroup: by cgroup.kill
// (Linux 5.14), or else by freezing it so no process forks unseen,
// signalling each pid and thawing it again so the signals land.
func (m *Manager) Kill() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skipped {
		return nil
	}
	err := cgroups.WriteFile(m.dir, killFile, "1")
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("kill: %w", err)
	}
	if _, serr := os.Stat(m.dir); serr != nil {
		return nil // no cgroup, no processes
	}
	if err := setFreeze(m.dir, true); err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	kerr := signalAll(m.dir)
	if err := setFreeze(m.dir, false); err != nil {
		return errors.Join(kerr, fmt.Errorf("kill: %w", err))
	}
	return kerr
}

func signalAll(dir string) error {
	pids, err := cgroups.ReadAllProcs(dir)
	if err != nil {
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

// Stats reads the cgroup's counters.
func (m *Manager) Stats() (*cgroups.Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := cgroups.NewStats()
	if m.skipped {
		return s, nil
	}
	for _, stat := range statters {
		if err := stat(m.dir, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Destroy removes the cgroup and any cgroup below it.
func (m *Manager) Destroy() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skipped {
		return nil
	}
	return cgroups.RemovePath(m.dir)
}

// Paths returns {"": dir}, or nothing when the cgroup was skipped.
func (m *Manager) Paths() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skipped {
		return map[string]string{}
	}
	return map[string]string{"": m.dir}
}

// Path returns the cgroup directory for any controller name.
func (m *Manager) Path(string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skipped {
		return ""
	}
	return m.dir
}
