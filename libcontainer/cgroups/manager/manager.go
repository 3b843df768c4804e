// Package manager picks the cgroup driver for a container: systemd when
// the config asks for it, else fs2 on a unified (cgroup v2) host and fs on
// a v1 or hybrid one.
//
// It is separate from package cgroups because the drivers import that
// package for the Manager interface and the Stats type.
package manager

import (
	"errors"
	"fmt"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/fs"
	"github.com/towel-runtime/towel/libcontainer/cgroups/fs2"
	"github.com/towel-runtime/towel/libcontainer/cgroups/systemd"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// New returns the manager for a new container id with cgroup config cfg.
// It creates nothing; Apply does.
//
// cfg.Path is the OCI cgroupsPath. For the fs drivers an absolute path is
// taken from the hierarchy root and a relative one from the caller's own
// cgroup (on v2, its parent); an empty path means the container id, as
// runc 1.2 does. For the systemd driver it is "slice:prefix:name".
//
// With rootless set and no cgroupsPath, a cgroup the user may not create
// (v1) or that is not delegated (v2) is skipped by Apply without error,
// as long as no limit needs it: Paths() is then empty.
func New(cfg *configs.Cgroup, id string, rootless bool) (cgroups.Manager, error) {
	if cfg == nil {
		return nil, errors.New("cgroup manager: no cgroup config")
	}
	if cfg.Systemd {
		return systemd.New(cfg, id, rootless)
	}
	if cgroups.IsCgroup2UnifiedMode() {
		own, err := cgroups.OwnCgroups()
		if err != nil {
			return nil, fmt.Errorf("cgroup manager: %w", err)
		}
		dir, err := fs2.DirPath(cgroups.UnifiedMountpoint, cfg, id, own[""])
		if err != nil {
			return nil, err
		}
		return fs2.NewManager(cfg, cgroups.UnifiedMountpoint, dir, rootless), nil
	}
	paths, err := fs.Paths(cfg, id)
	if err != nil {
		return nil, fmt.Errorf("cgroup manager: %w", err)
	}
	return fs.NewManager(cfg, paths, rootless), nil
}

// Load returns the manager of an existing container from the paths its
// state recorded (a Manager's Paths() after Apply).
func Load(cfg *configs.Cgroup, paths map[string]string) (cgroups.Manager, error) {
	if cfg == nil {
		return nil, errors.New("cgroup manager: no cgroup config")
	}
	if cfg.Systemd {
		return systemd.Load(cfg, paths)
	}
	if cgroups.IsCgroup2UnifiedMode() {
		// An empty map is a rootless container that runs without a
		// cgroup: the manager then does nothing.
		return fs2.NewManager(cfg, cgroups.UnifiedMountpoint, paths[""],
			false), nil
	}
	return fs.NewManager(cfg, paths, false), nil
}
