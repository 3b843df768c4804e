package cgroups

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotEmpty is returned (wrapped) by CheckUnused when the cgroup a new
// container would take already has processes.
var ErrNotEmpty = errors.New("container's cgroup is not empty")

// ErrFrozen is returned by CheckUnused when the cgroup a new container
// would take is frozen: its first process would hang.
var ErrFrozen = errors.New("container's cgroup unexpectedly frozen")

// CheckUnused checks, as runc 1.2 does before creating a container, that
// its cgroup either does not exist yet or exists empty and not frozen.
// Call it before Apply. On v1 only one hierarchy's processes are counted
// (the one Pids reads); the others are assumed to match.
func CheckUnused(m Manager) error {
	pids, err := m.Pids()
	// A cgroup removed while it is read is as good as none.
	if err != nil && !errors.Is(err, os.ErrNotExist) &&
		!errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("check container's cgroup: %w", err)
	}
	if len(pids) != 0 {
		return fmt.Errorf("%w: %d process(es) found", ErrNotEmpty, len(pids))
	}
	frozen, err := m.Frozen()
	if err != nil {
		return fmt.Errorf("check container's cgroup: %w", err)
	}
	if frozen {
		return ErrFrozen
	}
	return nil
}
