package cgroups

import "errors"

var (
	errSwapUnlimitedMemory = errors.New("invalid memory.swap: " +
		"a swap limit needs a memory limit, not an unlimited one")
	errSwapWithoutMemory = errors.New("invalid memory.swap: " +
		"a swap limit needs a memory limit")
	errSwapBelowMemory = errors.New("invalid memory.swap: " +
		"memory+swap limit is below the memory limit")
)

// ErrFrozenTimeout is returned when the kernel does not reach the asked
// freezer state in time.
var ErrFrozenTimeout = errors.New("cgroup freezer did not reach the state in time")

// ErrNoCgroup is returned by Set when the manager had to skip the cgroup
// (rootless without write access) and a limit was asked for anyway.
var ErrNoCgroup = errors.New("container could not join or create cgroup")
