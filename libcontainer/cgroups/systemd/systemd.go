// Package systemd is the cgroup driver that asks systemd, over D-Bus, to
// make the container a transient scope unit and to apply its limits.
package systemd

import (
	"errors"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// ErrNoSystemd is returned when the systemd driver is asked for on a host
// where systemd is not reachable over D-Bus.
var ErrNoSystemd = errors.New("systemd cgroup driver: systemd is not running")

// New returns the systemd-driven manager for container id.
func New(cfg *configs.Cgroup, id string, rootless bool) (cgroups.Manager, error) {
	return nil, ErrNoSystemd
}

// Load returns the systemd-driven manager of an existing container.
func Load(cfg *configs.Cgroup, paths map[string]string) (cgroups.Manager, error) {
	return nil, ErrNoSystemd
}
