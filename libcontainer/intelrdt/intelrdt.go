// Package intelrdt puts a container in a resctrl group, as linux.intelRdt
// asks: Intel RDT cache allocation (CAT, l3CacheSchema), memory bandwidth
// allocation (MBA, memBwSchema) and monitoring (CMT, MBM). The kernel side
// is the resctrl file system (Documentation/arch/x86/resctrl.rst): a
// directory per group, whose "schemata" file holds its allocations and
// whose "tasks" file the container's first process is written to; its
// children inherit the group on fork.
//
// Nothing here runs for a container whose config has no intelRdt: the
// caller creates a Manager only then, and resctrl is looked for in
// /proc/self/mountinfo at that moment, once per process.
//
// The group is named by closID, or by the container id when closID is
// empty (runtime-spec 1.2.0, config-linux.md "IntelRdt"). A group named by
// closID may be shared with other containers: it is never removed, and
// when it exists already its schemata must match the config's.
//
// BUG(towel): runtime-spec 1.2.0 names monitoring enableCMT and enableMBM;
// the enableMonitoring of later versions is not read.
package intelrdt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNotMounted is returned when the config asks for Intel RDT and no
// resctrl file system is mounted.
var ErrNotMounted = errors.New("intelRdt: resctrl is not mounted " +
	"(mount -t resctrl resctrl /sys/fs/resctrl on a host with Intel " +
	"RDT or AMD PQoS)")

// ErrNotSupported is returned (wrapped) when resctrl is mounted but does
// not offer a feature the config asks for.
var ErrNotSupported = errors.New("not supported by this host's resctrl")

var findRoot = sync.OnceValues(func() (string, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("resctrl"))
	if err != nil {
		return "", fmt.Errorf("intelRdt: read mountinfo: %w", err)
	}
	if len(mounts) == 0 {
		return "", ErrNotMounted
	}
	return mounts[0].Mountpoint, nil
})

// mkdir creates a group; tests replace it with one that also makes the
// files the kernel would.
var mkdir = os.Mkdir

// Root returns where resctrl is mounted, looked up once per process.
func Root() (string, error) { return findRoot() }

// Manager is one container's resctrl group.
type Manager struct {
	mu   sync.Mutex
	root string // the resctrl mount
	id   string // the container id
	cfg  specs.LinuxIntelRdt
}

// New returns the manager for container id with config cfg, on the
// resctrl of this host. It fails with ErrNotMounted when there is none,
// and checks cfg (see NewAt). It creates nothing; Apply does.
func New(cfg *specs.LinuxIntelRdt, id string) (*Manager, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	return NewAt(root, cfg, id)
}

// NewAt is New on the resctrl mounted at root. It checks that cfg is
// well-formed and that root offers what it asks for, so that a bad config
// fails before anything is created.
func NewAt(root string, cfg *specs.LinuxIntelRdt, id string) (*Manager, error) {
	if cfg == nil {
		return nil, errors.New("intelRdt: no config")
	}
	m := &Manager{root: root, id: id, cfg: *cfg}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// Load returns the manager of an existing container's group, to stop or
// read it: unlike New, it does not check the config against the host.
func Load(cfg *specs.LinuxIntelRdt, id string) (*Manager, error) {
	if cfg == nil {
		return nil, errors.New("intelRdt: no config")
	}
	root, err := Root()
	if err != nil {
		return nil, err
	}
	return &Manager{root: root, id: id, cfg: *cfg}, nil
}

// validate checks the config's form and that the host has the resources
// it names.
func (m *Manager) validate() error {
	if err := checkGroupName("closID", m.cfg.ClosID); err != nil {
		return err
	}
	if err := checkGroupName("container id", m.id); err != nil {
		return err
	}
	if err := m.checkSchema("l3CacheSchema", m.cfg.L3CacheSchema,
		"L3"); err != nil {
		return err
	}
	if err := m.checkSchema("memBwSchema", m.cfg.MemBwSchema,
		"MB"); err != nil {
		return err
	}
	if m.cfg.EnableCMT && !m.monFeature("llc_occupancy") {
		return fmt.Errorf("intelRdt: enableCMT: cache monitoring %w",
			ErrNotSupported)
	}
	if m.cfg.EnableMBM && !m.monFeature("mbm_total_bytes") &&
		!m.monFeature("mbm_local_bytes") {
		return fmt.Errorf("intelRdt: enableMBM: memory bandwidth "+
			"monitoring %w", ErrNotSupported)
	}
	return nil
}

// checkGroupName refuses a name that is not one directory entry.
func checkGroupName(what, name string) error {
	if name == "" {
		return nil
	}
	if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("intelRdt: invalid %s %q: must be a single "+
			"directory name", what, name)
	}
	// The root group's own directories hold no group.
	switch name {
	case "info", "mon_groups", "mon_data":
		return fmt.Errorf("intelRdt: invalid %s %q: reserved by resctrl",
			what, name)
	}
	return nil
}

// checkSchema checks a schema's form: lines "NAME:id=value;id=value"
// whose NAME starts with prefix (L3, L3CODE, L3DATA; MB), each a resource
// the host's resctrl has under info/.
func (m *Manager) checkSchema(field, schema, prefix string) error {
	lines, err := parseSchemata(schema)
	if err != nil {
		return fmt.Errorf("intelRdt: %s: %w", field, err)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l.resource, prefix) {
			return fmt.Errorf("intelRdt: %s: resource %q is not an %s "+
				"resource", field, l.resource, prefix)
		}
		if _, err := os.Stat(filepath.Join(m.root, "info",
			l.resource)); err != nil {
			return fmt.Errorf("intelRdt: %s: resource %s %w", field,
				l.resource, ErrNotSupported)
		}
	}
	return nil
}

// monFeature reports whether info/L3_MON/mon_features lists name.
func (m *Manager) monFeature(name string) bool {
	data, err := os.ReadFile(filepath.Join(m.root, "info", "L3_MON",
		"mon_features"))
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(data)) {
		if f == name {
			return true
		}
	}
	return false
}

// Path returns the container's group directory.
func (m *Manager) Path() string {
	name := m.cfg.ClosID
	if name == "" {
		name = m.id
	}
	return filepath.Join(m.root, name)
}

// monPath is the monitoring group the container gets inside a shared
// group, so that its counters are its own. A group named by the
// container id is its own monitoring group already.
func (m *Manager) monPath() string {
	if m.cfg.ClosID == "" || !m.cfg.EnableCMT && !m.cfg.EnableMBM {
		return ""
	}
	return filepath.Join(m.Path(), "mon_groups", m.id)
}

func (m *Manager) schemata() string {
	var lines []string
	for _, s := range []string{m.cfg.L3CacheSchema, m.cfg.MemBwSchema} {
		if s = strings.TrimSpace(s); s != "" {
			lines = append(lines, s)
		}
	}
	return strings.Join(lines, "\n")
}

// Apply puts pid in the container's group, creating it when it does not
// exist (a closID without schemata must exist), then writes the schemata
// to a group it created or checks them against one that existed. With
// monitoring asked for in a shared group, pid also gets a monitoring
// group of its own. Whatever Apply created is removed again when it
// fails.
func (m *Manager) Apply(pid int) (retErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	dir := m.Path()
	want := m.schemata()
	if m.cfg.ClosID != "" && want == "" {
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("intelRdt: closID %q without a schema "+
				"names a resctrl group that must exist: %w",
				m.cfg.ClosID, err)
		}
	}
	created := false
	if err := mkdir(dir, 0o755); err == nil {
		created = true
		defer func() {
			if retErr != nil {
				_ = os.RemoveAll(dir)
			}
		}()
	} else if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("intelRdt: create group %s: %w", dir, err)
	}

	switch {
	case want == "":
	case created || m.cfg.ClosID == "":
		if err := m.writeSchemata(dir, want); err != nil {
			return err
		}
	default:
		if err := m.checkSchemata(dir, want); err != nil {
			return err
		}
	}

	if err := m.writeTasks(dir, pid); err != nil {
		return err
	}
	if mon := m.monPath(); mon != "" {
		if err := mkdir(mon, 0o755); err != nil &&
			!errors.Is(err, os.ErrExist) {
			return fmt.Errorf("intelRdt: create monitoring group %s: %w",
				mon, err)
		}
		if err := m.writeTasks(mon, pid); err != nil {
			_ = os.Remove(mon)
			return err
		}
	}
	return nil
}

// Update replaces the L3 and memory bandwidth schemata that are not
// empty, as `update --l3-cache-schema/--mem-bw-schema` asks, and writes
// them to the group.
func (m *Manager) Update(l3CacheSchema, memBwSchema string) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	next := &Manager{root: m.root, id: m.id, cfg: m.cfg}
	if l3CacheSchema != "" {
		next.cfg.L3CacheSchema = l3CacheSchema
	}
	if memBwSchema != "" {
		next.cfg.MemBwSchema = memBwSchema
	}
	if err := next.validate(); err != nil {
		return err
	}
	var lines []string
	if l3CacheSchema != "" {
		lines = append(lines, l3CacheSchema)
	}
	if memBwSchema != "" {
		lines = append(lines, memBwSchema)
	}
	if len(lines) == 0 {
		return nil
	}
	if err := m.writeSchemata(m.Path(), strings.Join(lines, "\n")); err != nil {
		return err
	}
	m.cfg = next.cfg
	return nil
}

// Config returns the intelRdt config as Update left it.
func (m *Manager) Config() *specs.LinuxIntelRdt {
	m.mu.Lock()
	defer m.mu.Unlock()
	cfg := m.cfg
	return &cfg
}

// Destroy removes the container's monitoring group and, unless it is a
// closID group that others may share, its group. Groups that are gone
// already are not an error.
func (m *Manager) Destroy() error {
	m.mu.Lock()
	defer m.mu.Unlock()

	var errs []error
	if mon := m.monPath(); mon != "" {
		if err := removeGroup(mon); err != nil {
			errs = append(errs, err)
		}
	}
	if m.cfg.ClosID == "" {
		if err := removeGroup(m.Path()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeGroup removes a resctrl group. rmdir(2) of a group removes its
// files with it and moves its tasks back to the parent group; RemoveAll
// tries that first, and also empties a plain directory (tests).
func removeGroup(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("intelRdt: remove group %s: %w", dir, err)
	}
	return nil
}

func (m *Manager) writeTasks(dir string, pid int) error {
	err := writeFile(dir, "tasks", strconv.Itoa(pid))
	if err != nil {
		return fmt.Errorf("intelRdt: add pid %d to %s: %w", pid, dir,
			m.lastCmdStatus(err))
	}
	return nil
}

// writeSchemata writes the lines in one write(2): resctrl parses them
// together and rejects all on a bad one.
func (m *Manager) writeSchemata(dir, lines string) error {
	if err := writeFile(dir, "schemata", lines+"\n"); err != nil {
		return fmt.Errorf("intelRdt: write schemata %q to %s: %w",
			lines, dir, m.lastCmdStatus(err))
	}
	return nil
}

// lastCmdStatus adds the kernel's reason for a refused write, from
// info/last_cmd_status, to err.
func (m *Manager) lastCmdStatus(err error) error {
	data, rerr := os.ReadFile(filepath.Join(m.root, "info",
		"last_cmd_status"))
	status := strings.TrimSpace(string(data))
	if rerr != nil || status == "" || status == "ok" {
		return err
	}
	return fmt.Errorf("%w (resctrl: %s)", err, status)
}

// checkSchemata compares the wanted schemata with those of an existing
// group, as runtime-spec 1.2.0 requires for a closID group that exists.
func (m *Manager) checkSchemata(dir, want string) error {
	data, err := os.ReadFile(filepath.Join(dir, "schemata"))
	if err != nil {
		return fmt.Errorf("intelRdt: read schemata of %s: %w", dir, err)
	}
	have, err := parseSchemata(string(data))
	if err != nil {
		return fmt.Errorf("intelRdt: schemata of %s: %w", dir, err)
	}
	wantLines, err := parseSchemata(want)
	if err != nil {
		return fmt.Errorf("intelRdt: %w", err)
	}
	if err := matchSchemata(wantLines, have); err != nil {
		return fmt.Errorf("intelRdt: closID %q exists with other "+
			"schemata: %w", m.cfg.ClosID, err)
	}
	return nil
}

// writeFile writes data to an existing file (resctrl makes its files
// itself; creating one would hide a missing group).
func writeFile(dir, name, data string) error {
	f, err := os.OpenFile(filepath.Join(dir, name),
		unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(data)
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}
