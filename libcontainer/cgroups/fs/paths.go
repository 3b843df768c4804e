package fs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// subsystemNames are the v1 hierarchies a container joins, keyed in Paths
// by these names. "name=systemd" is joined so that tools reading
// /proc/PID/cgroup see the container where its other cgroups are.
var subsystemNames = []string{
	"cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio",
	"hugetlb", "net_cls", "net_prio", "perf_event", "freezer", "rdma",
	"misc", "name=systemd",
}

// InnerPath returns the cgroup path to use for cfg: cfg.Path cleaned, or
// the container id when the config names none (runc's fs driver makes
// such a cgroup under the caller's own).
func InnerPath(cfg *configs.Cgroup, id string) (string, error) {
	inner := cgroups.CleanPath(cfg.Path)
	if inner == "" {
		inner = cgroups.CleanPath(id)
	}
	if inner == "" || inner == "." || inner == "/" {
		return "", fmt.Errorf("cgroup path %q: names no cgroup", cfg.Path)
	}
	return inner, nil
}

// Paths returns the directory of the container's cgroup in each v1
// hierarchy mounted on this host. In hybrid mode (cgroup2 mounted at
// /sys/fs/cgroup/unified) the key "" holds its cgroup2 directory, used for
// controllers that only that hierarchy has and for cgroup.kill.
func Paths(cfg *configs.Cgroup, id string) (map[string]string, error) {
	hs, err := cgroups.V1Hierarchies()
	if err != nil {
		return nil, err
	}
	own, err := cgroups.OwnCgroups()
	if err != nil {
		return nil, err
	}
	inner, err := InnerPath(cfg, id)
	if err != nil {
		return nil, err
	}
	paths, err := pathsFor(hs, own, inner)
	if err != nil {
		return nil, err
	}
	if dir := hybridUnifiedDir(own, inner); dir != "" {
		paths[""] = dir
	}
	return paths, nil
}

// hybridMountpoint is where systemd mounts cgroup2 on a hybrid host.
const hybridMountpoint = cgroups.UnifiedMountpoint + "/unified"

func hybridUnifiedDir(own map[string]string, inner string) string {
	if !cgroups.IsCgroup2HybridMode() {
		return ""
	}
	if filepath.IsAbs(inner) {
		return filepath.Join(hybridMountpoint, inner)
	}
	// As on a unified host: the parent of our own cgroup, which has no
	// processes of its own, so controllers can be enabled below it.
	return filepath.Join(hybridMountpoint, filepath.Dir(own[""]), inner)
}

// pathsFor computes Paths from the mounted hierarchies and the caller's
// own cgroups: an absolute inner path is taken from each hierarchy's root,
// a relative one from the caller's cgroup in that hierarchy.
func pathsFor(hs []cgroups.Hierarchy, own map[string]string,
	inner string) (map[string]string, error) {

	paths := make(map[string]string)
	for _, name := range subsystemNames {
		h, ok := cgroups.FindHierarchy(hs, name)
		if !ok {
			// The devices controller is what keeps the container from the
			// host's disks: not having it is an error, not a skip.
			if name == "devices" {
				return nil, errors.New("cgroup v1 devices hierarchy " +
					"is not mounted")
			}
			continue
		}
		if filepath.IsAbs(inner) {
			paths[name] = filepath.Join(h.Mountpoint, inner)
			continue
		}
		paths[name] = filepath.Join(h.Mountpoint, ownRel(h, own[name]), inner)
	}
	return paths, nil
}

// ownRel returns where our own cgroup is relative to the hierarchy's
// mount. A cgroup outside the mount (another cgroup namespace, a bind of a
// sub-cgroup) maps to the mount itself.
func ownRel(h cgroups.Hierarchy, ownPath string) string {
	rel, err := filepath.Rel(h.Root, ownPath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "."
	}
	return rel
}
