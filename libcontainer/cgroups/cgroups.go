// Package cgroups places a container's processes in a control group and
// applies linux.resources to it. One Manager interface covers the cgroup v1
// file system driver (fs), the cgroup v2 one (fs2) and the systemd driver;
// New picks the one that fits the host and the config.
//
// It does not decide where the cgroup goes: configs.Cgroup.Path does.
package cgroups

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager is one container's cgroup.
type Manager interface {
	// Apply creates the cgroup if needed and moves pid into it. It writes
	// no limits.
	Apply(pid int) error

	// Set writes the resources that are set (non-nil fields only).
	Set(r *specs.LinuxResources) error

	// Freeze freezes (true) or thaws (false) every process and waits
	// until the kernel reports that state.
	Freeze(frozen bool) error

	// Frozen reports whether the cgroup is frozen.
	Frozen() (bool, error)

	// Pids lists the processes in the cgroup and its children.
	Pids() ([]int, error)

	// Kill sends SIGKILL to every process in the cgroup: cgroup.kill where
	// the kernel has it, else freeze, signal, thaw.
	Kill() error

	// Stats reads the usage counters for `events --stats`.
	Stats() (*Stats, error)

	// Destroy removes the cgroup. A cgroup that is already gone is not an
	// error.
	Destroy() error

	// Paths returns the cgroup's directory for each controller (v1) or
	// "" -> the unified directory (v2).
	Paths() map[string]string

	// Path returns the directory of one controller ("" for v2).
	Path(controller string) string
}
