// Package specconv turns an OCI bundle's config.json into towel's own
// configs.Config, checking everything that can be checked before a
// container exists, and provides the default config `towel spec` writes.
package specconv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/capabilities"
	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/devices"
	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/rootfs"
	"github.com/towel-runtime/towel/libcontainer/seccomp"
	"github.com/towel-runtime/towel/libcontainer/userns"
)

// Opts are the choices of the caller that config.json does not hold.
type Opts struct {
	// Bundle is the absolute bundle directory.
	Bundle string
	// ID is the container id, used for the default cgroup.
	ID           string
	NoPivotRoot  bool
	NoNewKeyring bool
	// SystemdCgroup selects the systemd cgroup driver.
	SystemdCgroup bool
	Rootless      bool
}

// LoadSpec reads and parses config.json in bundle.
func LoadSpec(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("JSON specification file %s not found",
				path)
		}
		return nil, err
	}
	var spec specs.Spec
	if err := jsonUnmarshalStrict(data, &spec); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &spec, nil
}

var nsTypes = map[specs.LinuxNamespaceType]configs.NamespaceType{
	specs.PIDNamespace:     configs.NEWPID,
	specs.NetworkNamespace: configs.NEWNET,
	specs.MountNamespace:   configs.NEWNS,
	specs.IPCNamespace:     configs.NEWIPC,
	specs.UTSNamespace:     configs.NEWUTS,
	specs.UserNamespace:    configs.NEWUSER,
	specs.CgroupNamespace:  configs.NEWCGROUP,
	specs.TimeNamespace:    configs.NEWTIME,
}

// Convert checks spec and converts it.
func Convert(spec *specs.Spec, opts *Opts) (*configs.Config, error) {
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, errors.New("root must be specified")
	}
	if spec.Process == nil {
		return nil, errors.New("process must be specified")
	}
	if spec.Linux == nil {
		return nil, errors.New("linux section must be specified")
	}
	if err := checkProcess(spec.Process); err != nil {
		return nil, err
	}

	root := spec.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(opts.Bundle, root)
	}
	root = filepath.Clean(root)
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("invalid rootfs: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("invalid rootfs: %s is not a directory", root)
	}

	l := spec.Linux
	c := &configs.Config{
		Bundle:        opts.Bundle,
		Rootfs:        root,
		Readonlyfs:    spec.Root.Readonly,
		NoPivotRoot:   opts.NoPivotRoot,
		NoNewKeyring:  opts.NoNewKeyring,
		Hostname:      spec.Hostname,
		Domainname:    spec.Domainname,
		Sysctl:        l.Sysctl,
		Personality:   l.Personality,
		MaskedPaths:   l.MaskedPaths,
		ReadonlyPaths: l.ReadonlyPaths,
		Seccomp:       l.Seccomp,
		MountLabel:    l.MountLabel,
		IntelRdt:      l.IntelRdt,
		Hooks:         spec.Hooks,
		Process:       spec.Process,
		Annotations:   spec.Annotations,
		OCIVersion:    spec.Version,
		Rootless:      opts.Rootless,
		TimeOffsets:   l.TimeOffsets,
	}
	if c.Seccomp != nil {
		if err := seccomp.Validate(c.Seccomp); err != nil {
			return nil, err
		}
	}
	if c.Hooks == nil {
		c.Hooks = &specs.Hooks{}
	}
	if err := checkHooks(c.Hooks); err != nil {
		return nil, err
	}

	if err := convertNamespaces(l, c); err != nil {
		return nil, err
	}
	if err := convertPropagation(l.RootfsPropagation, c); err != nil {
		return nil, err
	}
	for _, m := range spec.Mounts {
		cm, err := ParseMount(m, opts.Bundle)
		if err != nil {
			return nil, err
		}
		c.Mounts = append(c.Mounts, cm)
	}
	if err := completeIDMappings(c, os.Geteuid() != 0); err != nil {
		return nil, err
	}
	c.Devices = mergeDevices(rootfs.DefaultDevices(), l.Devices)

	res, err := cgroupResources(l)
	if err != nil {
		return nil, err
	}
	c.Cgroup = &configs.Cgroup{
		Path:      l.CgroupsPath,
		Systemd:   opts.SystemdCgroup,
		Resources: res,
	}
	if err := checkSysctl(c); err != nil {
		return nil, err
	}
	if len(c.TimeOffsets) > 0 && !c.Namespaces.Contains(configs.NEWTIME) {
		return nil, errors.New("timeOffsets given without a time namespace")
	}
	for clock := range c.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return nil, fmt.Errorf("timeOffsets: unknown clock %q", clock)
		}
	}
	if c.Hostname != "" && !c.Namespaces.Contains(configs.NEWUTS) {
		return nil, errors.New("unable to set hostname without a " +
			"private UTS namespace")
	}
	return c, nil
}

func checkProcess(p *specs.Process) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return errors.New("args must not be empty")
	}
	if p.Cwd == "" {
		return errors.New("cwd property must not be empty")
	}
	if !filepath.IsAbs(p.Cwd) {
		return errors.New("cwd property must be an absolute path")
	}
	for _, rl := range p.Rlimits {
		if !knownRlimit(rl.Type) {
			return fmt.Errorf("rlimit type %q is not supported", rl.Type)
		}
		if rl.Soft > rl.Hard {
			return fmt.Errorf("rlimit %s: soft limit %d is above the hard "+
				"limit %d", rl.Type, rl.Soft, rl.Hard)
		}
	}
	if p.Capabilities != nil {
		dropUnknownCaps(p.Capabilities)
	}
	return nil
}

// dropUnknownCaps removes capability names towel or the kernel does not
// know, with a warning, as runc 1.2 does.
func dropUnknownCaps(c *specs.LinuxCapabilities) {
	var ignored []string
	filter := func(list []string) []string {
		var out []string
		for _, name := range list {
			_, unsupported, err := capabilities.Parse([]string{name})
			if err != nil || len(unsupported) > 0 {
				ignored = append(ignored, name)
				continue
			}
			out = append(out, name)
		}
		return out
	}
	c.Bounding = filter(c.Bounding)
	c.Effective = filter(c.Effective)
	c.Permitted = filter(c.Permitted)
	c.Inheritable = filter(c.Inheritable)
	c.Ambient = filter(c.Ambient)
	if len(ignored) > 0 {
		logrus.Warnf("ignoring unknown or unavailable capabilities: %v",
			ignored)
	}
}

var rlimitNames = map[string]bool{
	"RLIMIT_CPU": true, "RLIMIT_FSIZE": true, "RLIMIT_DATA": true,
	"RLIMIT_STACK": true, "RLIMIT_CORE": true, "RLIMIT_RSS": true,
	"RLIMIT_NPROC": true, "RLIMIT_NOFILE": true, "RLIMIT_MEMLOCK": true,
	"RLIMIT_AS": true, "RLIMIT_LOCKS": true, "RLIMIT_SIGPENDING": true,
	"RLIMIT_MSGQUEUE": true, "RLIMIT_NICE": true, "RLIMIT_RTPRIO": true,
	"RLIMIT_RTTIME": true,
}

func knownRlimit(name string) bool { return rlimitNames[name] }

func checkHooks(h *specs.Hooks) error {
	all := [][]specs.Hook{h.Prestart, h.CreateRuntime, h.CreateContainer,
		h.StartContainer, h.Poststart, h.Poststop}
	for _, list := range all {
		for _, hook := range list {
			if !filepath.IsAbs(hook.Path) {
				return fmt.Errorf("hook path %q must be absolute", hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fmt.Errorf("hook %s: timeout must be positive",
					hook.Path)
			}
		}
	}
	return nil
}

func convertNamespaces(l *specs.Linux, c *configs.Config) error {
	for _, ns := range l.Namespaces {
		t, ok := nsTypes[ns.Type]
		if !ok {
			return fmt.Errorf("namespace %q does not exist", ns.Type)
		}
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("namespace %s path %q must be absolute",
				ns.Type, ns.Path)
		}
		c.Namespaces = append(c.Namespaces,
			configs.Namespace{Type: t, Path: ns.Path})
	}
	if err := c.Namespaces.Validate(); err != nil {
		return err
	}
	if !c.Namespaces.Contains(configs.NEWNS) {
		return errors.New("a mount namespace is required")
	}
	if c.Namespaces.PathOf(configs.NEWNS) != "" {
		return errors.New("joining a mount namespace is not supported")
	}
	for _, p := range c.Namespaces {
		if p.Path != "" {
			if _, err := os.Stat(p.Path); err != nil {
				return fmt.Errorf("namespace %s: %w", p.Type, err)
			}
		}
	}
	hasUserns := c.Namespaces.Contains(configs.NEWUSER)
	for _, m := range l.UIDMappings {
		c.UIDMappings = append(c.UIDMappings, idMap(m))
	}
	for _, m := range l.GIDMappings {
		c.GIDMappings = append(c.GIDMappings, idMap(m))
	}
	usernsPath := c.Namespaces.PathOf(configs.NEWUSER)
	newUserns := hasUserns && usernsPath == ""
	if newUserns && (len(c.UIDMappings) == 0 || len(c.GIDMappings) == 0) {
		return errors.New("user namespaces enabled, but no uid or gid " +
			"mappings found")
	}
	if !hasUserns && (len(c.UIDMappings) > 0 || len(c.GIDMappings) > 0) {
		return errors.New("uid/gid mappings given without a user " +
			"namespace")
	}
	if usernsPath != "" {
		return joinedUsernsMaps(usernsPath, c)
	}
	return nil
}

// joinedUsernsMaps sets c's maps to those of the user namespace at path,
// which the container joins, so that what depends on them (the owner of
// the exec fifo, "idmap" mounts) sees the container's real ids. Maps the
// config gives too must be the same, as runc 1.2 requires.
func joinedUsernsMaps(path string, c *configs.Config) error {
	uids, gids, err := userns.MapsOf(path)
	if errors.Is(err, userns.ErrNoProcess) {
		// TODO: a namespace no process is in needs a helper that joins
		// it to show its maps; the config's maps, if any, are trusted.
		return nil
	}
	if err != nil {
		return fmt.Errorf("user namespace %s: %w", path, err)
	}
	given := len(c.UIDMappings) > 0 || len(c.GIDMappings) > 0
	if given && (!userns.Equal(c.UIDMappings, uids) ||
		!userns.Equal(c.GIDMappings, gids)) {
		return fmt.Errorf("user namespace %s: the config's uid/gid "+
			"mappings differ from the namespace's", path)
	}
	c.UIDMappings, c.GIDMappings = uids, gids
	return nil
}

func idMap(m specs.LinuxIDMapping) configs.IDMap {
	return configs.IDMap{ContainerID: int64(m.ContainerID),
		HostID: int64(m.HostID), Size: int64(m.Size)}
}

func mergeDevices(defaults []*configs.Device,
	extra []specs.LinuxDevice,
) []*configs.Device {
	byPath := map[string]int{}
	out := append([]*configs.Device{}, defaults...)
	for i, d := range out {
		byPath[d.Path] = i
	}
	for _, d := range extra {
		var mode uint32 = 0o666
		if d.FileMode != nil {
			mode = uint32(*d.FileMode)
		}
		dev := &configs.Device{
			Path: d.Path, Type: rune(d.Type[0]), Major: d.Major,
			Minor: d.Minor, FileMode: mode,
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		if i, ok := byPath[d.Path]; ok {
			out[i] = dev
			continue
		}
		byPath[d.Path] = len(out)
		out = append(out, dev)
	}
	return out
}

// checkSysctl refuses keys whose namespace the container does not own,
// as runc does: they would change the host.
func checkSysctl(c *configs.Config) error {
	for key := range c.Sysctl {
		if strings.Contains(key, "..") {
			return fmt.Errorf("sysctl %q is not allowed", key)
		}
		norm := strings.ReplaceAll(key, "/", ".")
		switch {
		case strings.HasPrefix(norm, "kernel.msg"),
			strings.HasPrefix(norm, "kernel.sem"),
			strings.HasPrefix(norm, "kernel.shm"),
			strings.HasPrefix(norm, "fs.mqueue."):
			if !c.Namespaces.Contains(configs.NEWIPC) {
				return fmt.Errorf("sysctl %q is not allowed in the "+
					"host's ipc namespace", key)
			}
		case strings.HasPrefix(norm, "net."):
			if !c.Namespaces.Contains(configs.NEWNET) {
				return fmt.Errorf("sysctl %q is not allowed in the "+
					"host network namespace", key)
			}
		case norm == "kernel.hostname", norm == "kernel.domainname":
			if !c.Namespaces.Contains(configs.NEWUTS) {
				return fmt.Errorf("sysctl %q is not allowed in the "+
					"host's uts namespace", key)
			}
		default:
			return fmt.Errorf("sysctl %q is not in a separate kernel "+
				"namespace", key)
		}
	}
	return nil
}

var rootPropagation = map[string]int{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

func convertPropagation(p string, c *configs.Config) error {
	if p == "" {
		return nil
	}
	flag, ok := rootPropagation[p]
	if !ok {
		return fmt.Errorf("rootfsPropagation %q is not valid", p)
	}
	c.RootPropagation = flag
	return nil
}

// cgroupResources copies linux.resources and completes its device rules
// as runc does: each device of linux.devices is allowed, then the
// built-in allow list (/dev/null, the terminals...) is appended, so the
// nodes towel creates can be used whatever the config denies.
func cgroupResources(l *specs.Linux) (*specs.LinuxResources, error) {
	var res specs.LinuxResources
	if l.Resources != nil {
		res = *l.Resources
	}
	rules := append([]specs.LinuxDeviceCgroup(nil), res.Devices...)
	for _, d := range l.Devices {
		major, minor := d.Major, d.Minor
		rules = append(rules, specs.LinuxDeviceCgroup{
			Allow: true, Type: d.Type, Major: &major, Minor: &minor,
			Access: "rwm",
		})
	}
	res.Devices = append(rules, devices.DefaultAllowRules()...)
	err := cgroups.ValidateResources(&res, cgroups.IsCgroup2UnifiedMode())
	if err != nil {
		return nil, err
	}
	return &res, nil
}
