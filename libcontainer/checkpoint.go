package libcontainer

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/criu"
)

// Checkpoint saves the container's processes with criu into
// opts.ImagePath. The container must be running or paused. Unless
// opts.LeaveRunning or opts.PreDump is set, criu kills the processes once
// saved, and the caller should Destroy the container. On error the
// container is as it was.
func (c *Container) Checkpoint(opts *criu.Options) error {
	lk, err := lock(c.dir)
	if err != nil {
		return err
	}
	defer lk.Close()

	status, err := c.Status()
	if err != nil {
		return err
	}
	if status != Running && status != Paused {
		return fmt.Errorf("cannot checkpoint a %s container", status)
	}
	// Checked here too, so that a missing criu is reported before a
	// cgroup or the container's mounts are looked at.
	if _, err := criu.Probe(); err != nil {
		return err
	}

	t := &criu.Target{Config: c.state.Config, InitPid: c.state.InitPid}
	mgr, err := c.cgroupManager()
	if err != nil {
		return err
	}
	if mgr != nil {
		t.FreezerCgroup = freezerDir(mgr)
	}
	cb := &criu.Callbacks{
		NetworkLock: func() error {
			// towel configures no network devices: nothing to block.
			logrus.Debug("criu: network lock")
			return nil
		},
		NetworkUnlock: func() error {
			logrus.Debug("criu: network unlock")
			return nil
		},
		PostDump: func() error {
			logrus.Debugf("criu: images of %s written to %s", c.ID,
				opts.ImagePath)
			return nil
		},
	}
	if err := criu.Dump(t, opts, cb); err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.ID, err)
	}
	return nil
}

// freezerDir is the cgroup criu freezes the container through: the v1
// freezer hierarchy's directory, or the v2 cgroup.
func freezerDir(mgr cgroups.Manager) string {
	if cgroups.IsCgroup2UnifiedMode() {
		return mgr.Path("")
	}
	return mgr.Path("freezer")
}
