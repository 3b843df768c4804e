package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// UnifiedMountpoint is where the host's cgroup file system is mounted:
// the cgroup2 root on a unified host, a tmpfs holding one directory per v1
// hierarchy otherwise.
const UnifiedMountpoint = "/sys/fs/cgroup"

var isUnified = sync.OnceValue(func() bool {
	var st unix.Statfs_t
	if err := unix.Statfs(UnifiedMountpoint, &st); err != nil {
		// No /sys/fs/cgroup at all: neither driver can work, and v1 gives
		// the clearer error later (no hierarchy found).
		return false
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC
})

// IsCgroup2UnifiedMode reports whether /sys/fs/cgroup is a cgroup2 file
// system (unified mode). The answer is computed once per process.
func IsCgroup2UnifiedMode() bool { return isUnified() }

// Hierarchy is one mounted cgroup v1 hierarchy.
type Hierarchy struct {
	// Mountpoint is where it is mounted, /sys/fs/cgroup/memory say.
	Mountpoint string
	// Root is the cgroup, inside the hierarchy, that is mounted there
	// ("/" unless the mount is a bind of a sub-cgroup or a cgroup
	// namespace hides the rest).
	Root string
	// Subsystems are the controllers bound to it, and "name=X" for a
	// named hierarchy.
	Subsystems []string
}

var v1Hierarchies = sync.OnceValues(func() ([]Hierarchy, error) {
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return hierarchiesFromMounts(infos), nil
})

// V1Hierarchies lists the cgroup v1 hierarchies mounted in this process's
// mount namespace, from /proc/self/mountinfo. The list is read once per
// process.
func V1Hierarchies() ([]Hierarchy, error) { return v1Hierarchies() }

func hierarchiesFromMounts(infos []*mountinfo.Info) []Hierarchy {
	var hs []Hierarchy
	seen := make(map[string]bool)
	for _, info := range infos {
		if info.FSType != "cgroup" {
			continue
		}
		var subs []string
		for _, opt := range strings.Split(info.VFSOptions, ",") {
			isName := strings.HasPrefix(opt, "name=")
			if opt == "rw" || opt == "ro" || isV1Option(opt) ||
				strings.Contains(opt, "=") && !isName {
				continue
			}
			subs = append(subs, opt)
		}
		if len(subs) == 0 {
			continue
		}
		// A hierarchy mounted twice is the same hierarchy; keep the first,
		// which is the one mounted earliest (the usual one).
		key := strings.Join(subs, ",")
		if seen[key] {
			continue
		}
		seen[key] = true
		hs = append(hs, Hierarchy{
			Mountpoint: info.Mountpoint,
			Root:       info.Root,
			Subsystems: subs,
		})
	}
	return hs
}

// isV1Option reports whether a cgroup v1 super block option is a mount
// option rather than a controller name (see cgroup_parse_param in
// kernel/cgroup/cgroup-v1.c).
func isV1Option(opt string) bool {
	switch opt {
	case "noprefix", "clone_children", "cpuset_v2_mode", "xattr",
		"all", "none", "favordynmods", "nofavordynmods":
		return true
	}
	return strings.HasPrefix(opt, "release_agent=")
}

// FindHierarchy returns the hierarchy that has subsystem (a controller
// name, or "name=X").
func FindHierarchy(hs []Hierarchy, subsystem string) (Hierarchy, bool) {
	for _, h := range hs {
		for _, s := range h.Subsystems {
			if s == subsystem {
				return h, true
			}
		}
	}
	return Hierarchy{}, false
}

var ownCgroups = sync.OnceValues(func() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseProcCgroup(f)
})

// OwnCgroups returns this process's cgroup in each hierarchy, keyed by
// controller ("name=X" for named v1 hierarchies, "" for cgroup2), read
// once from /proc/self/cgroup.
func OwnCgroups() (map[string]string, error) { return ownCgroups() }

// ParseProcCgroup parses /proc/PID/cgroup (see cgroups(7)):
//
//	hierarchy-ID:controller-list:cgroup-path
//	4:memory:/user.slice
//	0::/init.scope
//
// A hierarchy with several controllers gets one entry per controller.
func ParseProcCgroup(r io.Reader) (map[string]string, error) {
	m := make(map[string]string)
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("parse /proc/self/cgroup line %q: "+
				"want 3 fields", line)
		}
		if parts[1] == "" {
			m[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			m[c] = parts[2]
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	return m, nil
}

// CleanPath makes an untrusted cgroup path safe to join to a root: it is
// cleaned as if it were absolute so ".." cannot climb above the root, and
// stays relative if it was relative.
func CleanPath(unsafePath string) string {
	if unsafePath == "" {
		return ""
	}
	cleaned := filepath.Clean("/" + unsafePath)
	if !filepath.IsAbs(unsafePath) {
		cleaned = strings.TrimPrefix(cleaned, "/")
		if cleaned == "" {
			cleaned = "."
		}
	}
	return cleaned
}

var isHybrid = sync.OnceValue(func() bool {
	var st unix.Statfs_t
	err := unix.Statfs(UnifiedMountpoint+"/unified", &st)
	return err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
})

// IsCgroup2HybridMode reports whether cgroup2 is mounted at
// /sys/fs/cgroup/unified next to v1 hierarchies (systemd's hybrid layout).
func IsCgroup2HybridMode() bool { return !isUnified() && isHybrid() }
