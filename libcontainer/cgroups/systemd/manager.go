package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/fs"
	"github.com/towel-runtime/towel/libcontainer/cgroups/fs2"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// ErrNoSystemd is returned when the systemd driver is asked for but
// systemd cannot be reached over D-Bus.
var ErrNoSystemd = errors.New("systemd cgroup driver: systemd is not " +
	"reachable over D-Bus")

// jobTimeout bounds the wait for systemd to start or stop a unit.
const jobTimeout = 30 * time.Second

// conn is the part of the systemd D-Bus API the driver uses; tests give
// a fake.
type conn interface {
	StartTransientUnitContext(ctx context.Context, name, mode string,
		props []sd.Property, ch chan<- string) (int, error)
	StopUnitContext(ctx context.Context, name, mode string,
		ch chan<- string) (int, error)
	SetUnitPropertiesContext(ctx context.Context, name string,
		runtime bool, props ...sd.Property) error
	ResetFailedUnitContext(ctx context.Context, name string) error
	GetManagerProperty(name string) (string, error)
	Close()
}

// Manager is a container's cgroup owned by systemd. Resource writes that
// systemd cannot make, and every read, go through an fs (v1) or fs2 (v2)
// manager on the unit's cgroup.
type Manager struct {
	mu       sync.Mutex
	cfg      *configs.Cgroup
	id       string
	rootless bool
	unit     Unit
	v2       bool
	root     string // cgroup mount root, /sys/fs/cgroup

	dial    func(rootless bool) (conn, error)
	conn    conn
	version int

	files cgroups.Manager // fs or fs2 on the unit's cgroup, after Apply
	paths map[string]string
}

var _ cgroups.Manager = (*Manager)(nil)

func dialSystemd(rootless bool) (conn, error) {
	ctx := context.Background()
	var c *sd.Conn
	var err error
	if rootless {
		c, err = sd.NewUserConnectionContext(ctx)
	} else {
		c, err = sd.NewWithContext(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSystemd, err)
	}
	return c, nil
}

// New returns the systemd-driven manager for container id. It does not
// talk to systemd until Apply.
func New(cfg *configs.Cgroup, id string, rootless bool) (cgroups.Manager, error) {
	v2 := cgroups.IsCgroup2UnifiedMode()
	if rootless && !v2 {
		return nil, errors.New("systemd cgroup driver: rootless " +
			"containers need cgroup v2")
	}
	return newManager(cfg, id, rootless, v2, cgroups.UnifiedMountpoint,
		dialSystemd)
}

func newManager(cfg *configs.Cgroup, id string, rootless, v2 bool,
	root string, dial func(bool) (conn, error)) (*Manager, error) {

	u, err := ParsePath(cfg.Path, id, rootless)
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, id: id, rootless: rootless, unit: u, v2: v2,
		root: root, dial: dial}, nil
}

// Load returns the manager of an existing container from the paths its
// state recorded.
func Load(cfg *configs.Cgroup, paths map[string]string) (cgroups.Manager, error) {
	v2 := cgroups.IsCgroup2UnifiedMode()
	return load(cfg, paths, v2, cgroups.UnifiedMountpoint, dialSystemd)
}

func load(cfg *configs.Cgroup, paths map[string]string, v2 bool,
	root string, dial func(bool) (conn, error)) (*Manager, error) {

	m := &Manager{cfg: cfg, v2: v2, root: root, dial: dial,
		paths: copyPaths(paths)}
	dir := paths[""]
	if !v2 {
		dir = paths["memory"]
		if dir == "" {
			dir = paths["devices"]
		}
	}
	if dir == "" {
		return nil, errors.New("systemd cgroup driver: the container's " +
			"state has no cgroup path")
	}
	u, err := unitFromPath(dir)
	if err != nil {
		return nil, err
	}
	m.unit = u
	// A user's manager owns cgroups below the user@UID.service unit.
	m.rootless = strings.Contains(dir, "/user@")
	m.files = m.fileManager()
	return m, nil
}

func copyPaths(p map[string]string) map[string]string {
	c := make(map[string]string, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

// connect dials systemd once and reads its version.
func (m *Manager) connect() error {
	if m.conn != nil {
		return nil
	}
	c, err := m.dial(m.rootless)
	if err != nil {
		return err
	}
	m.conn = c
	m.version = systemdVersion(c)
	return nil
}

// systemdVersion reads the manager's Version ("\"252.19-1~deb12u1\"",
// quoted as a D-Bus variant prints); 0 when unknown.
func systemdVersion(c conn) int {
	v, err := c.GetManagerProperty("Version")
	if err != nil {
		return 0
	}
	v = strings.Trim(v, "\"")
	v = strings.TrimPrefix(v, "v")
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		v = v[:end]
	}
	n, _ := strconv.Atoi(v)
	return n
}

// unitPaths computes the unit's cgroup directories: on v2 below the
// manager's own cgroup (a user manager's, rootless), on v1 the same
// path in every mounted hierarchy.
func (m *Manager) unitPaths() (map[string]string, error) {
	rel := m.unit.RelPath()
	if m.v2 {
		base := "/"
		if cg, err := m.conn.GetManagerProperty("ControlGroup"); err == nil {
			if cg = strings.Trim(cg, "\""); cg != "" {
				base = cg
			}
		}
		return map[string]string{"": filepath.Join(m.root, base, rel)}, nil
	}
	return fs.Paths(&configs.Cgroup{Path: rel}, m.id)
}

func (m *Manager) fileManager() cgroups.Manager {
	if m.v2 {
		return fs2.NewManager(m.cfg, m.root, m.paths[""], m.rootless)
	}
	return fs.NewManager(m.cfg, m.paths, m.rootless)
}

// Apply starts the unit with pid in it and the config's resources as
// properties, then joins the cgroups systemd does not manage (v1).
func (m *Manager) Apply(pid int) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	if err := m.connect(); err != nil {
		return err
	}
	props := unitProperties(m.unit, m.id, pid, m.v2)
	res, err := resourceProperties(m.cfg.Resources, m.v2, m.version)
	if err != nil {
		return err
	}
	props = append(props, res...)
	if err := m.startUnit(props); err != nil {
		return err
	}

	paths, err := m.unitPaths()
	if err != nil {
		return err
	}
	m.paths = paths
	m.files = m.fileManager()
	// systemd put pid in the unit's cgroup; this makes the v1
	// hierarchies it does not manage (freezer, cpuset, ...) match.
	return m.files.Apply(pid)
}

// startUnit starts the transient unit and waits for the job. A unit of
// that name left failed by an earlier container is reset and the start
// retried once.
func (m *Manager) startUnit(props []sd.Property) error {
	for attempt := 0; ; attempt++ {
		err := m.runJob(func(ctx context.Context, ch chan<- string) (int, error) {
			return m.conn.StartTransientUnitContext(ctx, m.unit.Name,
				"replace", props, ch)
		})
		if err == nil {
			return nil
		}
		if isUnitExists(err) && attempt == 0 {
			_ = m.conn.ResetFailedUnitContext(context.Background(),
				m.unit.Name)
			continue
		}
		return fmt.Errorf("start unit %s: %w", m.unit.Name, err)
	}
}

func isUnitExists(err error) bool {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.systemd1.UnitExists"
	}
	return strings.Contains(err.Error(), "already exists")
}

// runJob runs a systemd job and waits for its result ("done").
func (m *Manager) runJob(start func(context.Context,
	chan<- string) (int, error)) error {

	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	ch := make(chan string, 1)
	if _, err := start(ctx, ch); err != nil {
		return err
	}
	select {
	case result := <-ch:
		if result != "done" {
			return fmt.Errorf("systemd job result %q", result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("systemd job: %w", ctx.Err())
	}
}

// Set gives systemd the properties it has for r, then writes every
// resource to the unit's cgroup files as well: systemd may round, and has
// no property for some fields.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	if err := cgroups.ValidateResources(r, m.v2); err != nil {
		return err
	}
	if m.files == nil {
		return fmt.Errorf("set resources: %w", cgroups.ErrNoCgroup)
	}
	if err := m.connect(); err != nil {
		return err
	}
	props, err := resourceProperties(r, m.v2, m.version)
	if err != nil {
		return err
	}
	if len(props) > 0 {
		// On v1 systemd rewrites devices.list from deny-all up; a frozen
		// container cannot trip over the gap.
		thaw := false
		if !m.v2 && r.Devices != nil {
			if frozen, err := m.files.Frozen(); err == nil && !frozen {
				thaw = m.files.Freeze(true) == nil
			}
		}
		err := m.conn.SetUnitPropertiesContext(context.Background(),
			m.unit.Name, true, props...)
		if thaw {
			if terr := m.files.Freeze(false); err == nil {
				err = terr
			}
		}
		if err != nil {
			return fmt.Errorf("set properties of %s: %w", m.unit.Name, err)
		}
	}
	return m.files.Set(r)
}

// Freeze freezes or thaws through the cgroup files.
func (m *Manager) Freeze(frozen bool) error {
	f := m.fileMgr()
	if f == nil {
		return fmt.Errorf("freeze: %w", cgroups.ErrNoCgroup)
	}
	return f.Freeze(frozen)
}

// Frozen reports the freezer state.
func (m *Manager) Frozen() (bool, error) {
	if f := m.fileMgr(); f != nil {
		return f.Frozen()
	}
	return false, nil
}

// Pids lists the unit's processes.
func (m *Manager) Pids() ([]int, error) {
	if f := m.fileMgr(); f != nil {
		return f.Pids()
	}
	return nil, nil
}

// Kill kills every process of the unit (cgroup.kill or freeze-kill-thaw).
func (m *Manager) Kill() error {
	if f := m.fileMgr(); f != nil {
		return f.Kill()
	}
	return nil
}

// Stats reads the unit's counters.
func (m *Manager) Stats() (*cgroups.Stats, error) {
	if f := m.fileMgr(); f != nil {
		return f.Stats()
	}
	return cgroups.NewStats(), nil
}

func (m *Manager) fileMgr() cgroups.Manager {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files
}

// Destroy stops the unit and removes what is left of its cgroups (the
// v1 hierarchies systemd does not manage).
func (m *Manager) Destroy() error {
	m.mu.Lock()
	defer m.mu.Unlock()

	if err := m.connect(); err == nil {
		err := m.runJob(func(ctx context.Context, ch chan<- string) (int, error) {
			return m.conn.StopUnitContext(ctx, m.unit.Name, "replace", ch)
		})
		// A unit that is gone already is what Destroy wants.
		if err != nil && !isNoSuchUnit(err) {
			return fmt.Errorf("stop unit %s: %w", m.unit.Name, err)
		}
		_ = m.conn.ResetFailedUnitContext(context.Background(), m.unit.Name)
	}
	if m.files == nil {
		return nil
	}
	return m.files.Destroy()
}

func isNoSuchUnit(err error) bool {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.systemd1.NoSuchUnit"
	}
	return errors.Is(err, os.ErrNotExist)
}

// Paths returns the unit's cgroup directories.
func (m *Manager) Paths() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copyPaths(m.paths)
}

// Path returns one controller's directory ("" for v2).
func (m *Manager) Path(controller string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.v2 {
		return m.paths[""]
	}
	return m.paths[controller]
}
