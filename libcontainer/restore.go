package libcontainer

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/manager"
	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/criu"
)

// RestoreOpts are the caller's choices for Restore.
type RestoreOpts struct {
	// Criu are the options of the restore itself.
	Criu *criu.Options

	// ConsoleSocket receives the pty master of a restored terminal;
	// empty keeps it in the returned Process.
	ConsoleSocket string

	// Stdin, Stdout and Stderr take the place of init's stdio where that
	// was a pipe, or a file outside the container, at checkpoint time;
	// nil means ours.
	Stdin, Stdout, Stderr *os.File
}

// Restore makes container id under root from a checkpoint, with cfg (the
// configuration of the bundle given to restore) for its cgroup, hooks and
// bind mount sources. It leaves the container as a create and start
// would: running, its state saved, so that every other command works on
// it. The restored init is a child of the caller. Nothing is left behind
// when it fails.
func Restore(root, id string, cfg *configs.Config, opts *RestoreOpts) (
	_ *Container, _ *Process, retErr error,
) {
	if err := ValidateID(id); err != nil {
		return nil, nil, err
	}
	// A missing criu is reported before anything is written.
	if _, err := criu.Probe(); err != nil {
		return nil, nil, err
	}
	dir, lk, err := newStateDir(root, id)
	if err != nil {
		return nil, nil, err
	}
	defer lk.Close()

	c := &Container{ID: id, dir: dir, state: &State{
		ID:             id,
		Creating:       true,
		Created:        time.Now().UTC(),
		Owner:          ownerName(),
		Config:         cfg,
		NamespacePaths: map[configs.NamespaceType]string{},
	}}
	var mgr cgroups.Manager
	proc := &Process{}
	defer func() {
		if retErr == nil {
			return
		}
		if proc.Console != nil {
			proc.Console.Close()
		}
		if proc.Pid > 0 {
			// Restored, but the restore failed after: criu has
			// killed it, unless it failed on our side.
			_ = unix.Kill(proc.Pid, unix.SIGKILL)
			_, _ = unix.Wait4(proc.Pid, nil, 0, nil)
		}
		c.cleanup(mgr)
	}()

	// A killed restore leaves a state dir that delete can clean up.
	if err := writeState(dir, c.state); err != nil {
		return nil, nil, fmt.Errorf("save state: %w", err)
	}
	mgr, err = manager.New(cfg.Cgroup, id, cfg.Rootless)
	if err != nil {
		return nil, nil, fmt.Errorf("cgroup: %w", err)
	}
	if err := cgroups.CheckUnused(mgr); err != nil {
		mgr = nil // not ours to remove
		return nil, nil, fmt.Errorf("cgroup: %w", err)
	}

	t := &criu.RestoreTarget{
		Config:   cfg,
		StateDir: dir,
		Stdin:    orStd(opts.Stdin, os.Stdin),
		Stdout:   orStd(opts.Stdout, os.Stdout),
		Stderr:   orStd(opts.Stderr, os.Stderr),
	}
	cb := &criu.Callbacks{
		Started: func(criuPid int) error {
			// criu restores the processes into its own cgroup.
			if err := mgr.Apply(criuPid); err != nil {
				return fmt.Errorf("apply cgroup: %w", err)
			}
			c.state.CgroupPaths = mgr.Paths()
			if err := writeState(dir, c.state); err != nil {
				return err
			}
			if err := mgr.Set(cfg.Cgroup.Resources); err != nil {
				return fmt.Errorf("set cgroup resources: %w", err)
			}
			return nil
		},
		NetworkLock: func() error {
			logrus.Debug("criu: network lock")
			return nil
		},
		NetworkUnlock: func() error {
			logrus.Debug("criu: network unlock")
			return nil
		},
		SetupNamespaces: func(initPid int) error {
			if restoresEmptyNetns(cfg, opts.Criu) {
				if err := loopbackUpIn(initPid); err != nil {
					return err
				}
			}
			if cfg.Hooks == nil {
				return nil
			}
			st := c.ociState(initPid, Creating)
			err := runHooks("prestart", cfg.Hooks.Prestart, st)
			if err != nil {
				return err
			}
			return runHooks("createRuntime", cfg.Hooks.CreateRuntime, st)
		},
		PostRestore: func(initPid int) error {
			proc.Pid = initPid
			st, err := startTime(initPid)
			if err != nil {
				return fmt.Errorf("read start time of init %d: %w",
					initPid, err)
			}
			proc.StartTime = st
			c.state.InitPid = initPid
			c.state.InitStartTime = st
			c.state.Creating = false
			c.state.Created = time.Now().UTC()
			for _, ns := range cfg.Namespaces {
				c.state.NamespacePaths[ns.Type] = fmt.Sprintf(
					"/proc/%d/ns/%s", initPid, ns.Type.ProcName())
			}
			return writeState(dir, c.state)
		},
		OrphanPtsMaster: func(master *os.File) error {
			if opts.ConsoleSocket == "" {
				proc.Console = master
				return nil
			}
			defer master.Close()
			return SendFd(opts.ConsoleSocket, master)
		},
	}
	if err := criu.Restore(t, opts.Criu, cb); err != nil {
		return nil, nil, fmt.Errorf("restore %s: %w", id, err)
	}
	logrus.Debugf("restored %s from %s, init pid %d", id,
		opts.Criu.ImagePath, proc.Pid)
	return c, proc, nil
}

// restoresEmptyNetns reports whether the restore makes the container a
// new network namespace without restoring its contents, which leaves its
// loopback device down.
func restoresEmptyNetns(cfg *configs.Config, o *criu.Options) bool {
	return o.EmptyNs&unix.CLONE_NEWNET != 0 &&
		cfg.Namespaces.Contains(configs.NEWNET) &&
		cfg.Namespaces.PathOf(configs.NEWNET) == ""
}

// loopbackUpIn brings up lo in the network namespace of pid, as create
// does in init: criu restores connections on 127.0.0.1
// (--tcp-established) only over a loopback device that is up. It runs
// before the restored processes do.
func loopbackUpIn(pid int) error {
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return fmt.Errorf("open network namespace of %d: %w", pid, err)
	}
	defer ns.Close()

	done := make(chan error, 1)
	go func() {
		// The thread enters the container's network namespace and
		// is never unlocked: the Go runtime ends it with the
		// goroutine.
		runtime.LockOSThread()
		err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		if err != nil {
			done <- fmt.Errorf("setns: %w", err)
			return
		}
		done <- loopbackUp()
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("restored container: %w", err)
	}
	return nil
}
