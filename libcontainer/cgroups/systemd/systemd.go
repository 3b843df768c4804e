// Package systemd is the cgroup driver that has systemd own the
// container's cgroup: the container becomes a transient scope unit
// (PREFIX-NAME.scope) in a slice, created over D-Bus, and its limits are
// unit properties. What systemd has no property for (CFS burst, cpu.idle
// before systemd 252, per-device I/O limits, hugetlb, rdma, net_cls, most
// unified keys) is then written to the unit's cgroup files by the fs or
// fs2 driver.
//
// cgroupsPath is "SLICE:PREFIX:NAME" (an empty one means
// "system.slice:runc:ID", or "user.slice:runc:ID" rootless, as runc).
//
// BUG(towel): the unit properties sent are checked against a fake D-Bus
// connection; a real systemd (252, booted in a container by the
// integration tests) is only exercised on a cgroup2 tree with the hugetlb
// controller alone, and never as a user manager (rootless).
//
// BUG(towel): device rules of the form "c *:M" (any major, one minor)
// have no DeviceAllow form and are not given to systemd. They hold through
// towel's own device filter (v1 files, or the v2 program that replaces
// systemd's), until systemd reapplies the unit's properties, for example
// on a daemon-reload.
//
// BUG(towel): rootless containers with this driver need cgroup v2 and a
// user systemd reachable on the session bus.
package systemd

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Unit is where the container's cgroup lives under systemd.
type Unit struct {
	// Slice is the parent slice unit, "system.slice" say.
	Slice string
	// Name is the unit made for the container: "PREFIX-NAME.scope", or
	// NAME itself when NAME ends in ".slice" (a slice of its own).
	Name string
}

// ParsePath reads cgroupsPath for the systemd driver.
func ParsePath(cgroupsPath, id string, rootless bool) (Unit, error) {
	slice, prefix, name := "", "runc", id
	if cgroupsPath != "" {
		parts := strings.Split(cgroupsPath, ":")
		if len(parts) != 3 {
			return Unit{}, fmt.Errorf("cgroupsPath %q: the systemd driver "+
				"wants \"slice:prefix:name\"", cgroupsPath)
		}
		slice, prefix, name = parts[0], parts[1], parts[2]
	}
	if slice == "" {
		slice = "system.slice"
		if rootless {
			slice = "user.slice"
		}
	}
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return Unit{}, fmt.Errorf("cgroupsPath %q: invalid unit name %q",
			cgroupsPath, name)
	}
	if strings.ContainsAny(prefix, "/\x00") {
		return Unit{}, fmt.Errorf("cgroupsPath %q: invalid prefix %q",
			cgroupsPath, prefix)
	}
	if _, err := ExpandSlice(slice); err != nil {
		return Unit{}, fmt.Errorf("cgroupsPath %q: %w", cgroupsPath, err)
	}
	u := Unit{Slice: slice}
	switch {
	case strings.HasSuffix(name, ".slice"):
		if _, err := ExpandSlice(name); err != nil {
			return Unit{}, fmt.Errorf("cgroupsPath %q: %w", cgroupsPath, err)
		}
		u.Name = name
	case prefix == "":
		u.Name = name + ".scope"
	default:
		u.Name = prefix + "-" + name + ".scope"
	}
	return u, nil
}

// ExpandSlice turns a slice name into its cgroup path: each "-" in the
// name is a level, so "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice
// (systemd.slice(5)). "-.slice" is the root slice, "/".
func ExpandSlice(slice string) (string, error) {
	const suffix = ".slice"
	name, ok := strings.CutSuffix(slice, suffix)
	if !ok || strings.Contains(slice, "/") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	if name == "-" {
		return "/", nil
	}
	if name == "" || strings.HasPrefix(name, "-") ||
		strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	var path, prefix string
	for _, part := range strings.Split(name, "-") {
		prefix += part
		path += "/" + prefix + suffix
		prefix += "-"
	}
	return path, nil
}

// RelPath is the unit's cgroup below the cgroup of the systemd manager
// that runs it.
func (u Unit) RelPath() string {
	slice, _ := ExpandSlice(u.Slice)
	if strings.HasSuffix(u.Name, ".slice") {
		// A slice unit is placed by its own name, not under Slice.
		p, _ := ExpandSlice(u.Name)
		return p
	}
	return filepath.Join(slice, u.Name)
}

// unitFromPath recovers the unit from a cgroup directory that RelPath
// made: its last element is the unit, the one above it the slice.
func unitFromPath(dir string) (Unit, error) {
	name := filepath.Base(dir)
	slice := filepath.Base(filepath.Dir(dir))
	if !strings.HasSuffix(name, ".scope") && !strings.HasSuffix(name, ".slice") {
		return Unit{}, fmt.Errorf("cgroup %s is not a systemd unit's", dir)
	}
	if !strings.HasSuffix(slice, ".slice") {
		slice = "-.slice"
	}
	return Unit{Slice: slice, Name: name}, nil
}
