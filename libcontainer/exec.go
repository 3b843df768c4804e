package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/nsenter"
)

// ExecOpts are the caller's choices for Exec.
type ExecOpts struct {
	// ConsoleSocket receives the pty master of a terminal process.
	ConsoleSocket string

	// PreserveFds passes fds 3 .. 3+N-1 to the process.
	PreserveFds int

	// SubCgroups are cgroups below the container's to run the process
	// in, as `exec --cgroup` asks: controller name -> path relative to
	// the container's cgroup of that controller. The key "" stands for
	// every controller (and is the only one cgroup v2 takes). Each must
	// exist already.
	SubCgroups map[string]string

	// IgnorePaused allows exec into a paused container. The process is
	// then set up in the frozen cgroup, so Exec returns only once the
	// container is resumed.
	IgnorePaused bool

	// Stdin, Stdout and Stderr are the process's stdio; nil means ours.
	Stdin, Stdout, Stderr *os.File
}

// Exec starts p inside the running (or created) container. The process
// is a child of the caller, which may wait for it.
func (c *Container) Exec(p *specs.Process, opts *ExecOpts) (*Process, error) {
	status, err := c.Status()
	if err != nil {
		return nil, err
	}
	switch status {
	case Created, Running:
	case Paused:
		if !opts.IgnorePaused {
			return nil, ErrPaused
		}
	default:
		return nil, fmt.Errorf("cannot exec in a %s container", status)
	}
	cfg := c.state.Config

	pidfd, err := c.pidfd()
	if err != nil {
		return nil, err
	}
	pidfdFile := os.NewFile(uintptr(pidfd), "init-pidfd")
	defer pidfdFile.Close()

	mgr, err := c.cgroupManager()
	if err != nil {
		return nil, err
	}
	var cg cgroups.Manager
	if mgr != nil {
		cg, err = newExecCgroup(mgr, opts.SubCgroups, c.state.InitPid)
		if err != nil {
			return nil, err
		}
	} else if len(opts.SubCgroups) > 0 {
		return nil, errors.New("exec --cgroup: the container has no cgroup")
	}

	var flags uintptr
	for _, t := range configs.AllNamespaceTypes {
		if cfg.Namespaces.Contains(t) {
			flags |= t.CloneFlag()
		}
	}
	proc := &Process{}
	s := &startSpec{
		bootstrap: nsenter.Bootstrap{JoinPidfd: 0, JoinFlags: flags},
		cgroup:    cg,
		preserved: inheritedFds(opts.PreserveFds),
		extra:     []*os.File{pidfdFile},
		stdin:     orStd(opts.Stdin, os.Stdin),
		stdout:    orStd(opts.Stdout, os.Stdout),
		stderr:    orStd(opts.Stderr, os.Stderr),
		makeConfig: func(pid int) *initConfig {
			proc.Pid = pid
			return &initConfig{
				Mode:          modeExec,
				ID:            c.ID,
				Config:        cfg,
				Process:       p,
				PreserveFds:   opts.PreserveFds,
				SeccompFilter: c.state.SeccompFilter,
			}
		},
		onHooks: func(int) error {
			return errors.New("exec init asked for hooks")
		},
		onFd: func(name string, f *os.File) error {
			return c.handleFd(name, f, opts.ConsoleSocket, proc)
		},
	}
	st, err := startInit(s)
	if err != nil {
		if proc.Console != nil {
			proc.Console.Close()
		}
		return nil, err
	}
	proc.Pid, proc.StartTime = st.pid, st.startTime
	return proc, nil
}

// Wait waits for a process that is the caller's child and returns its
// exit code, 128+signal for a killed one, as a shell reports it.
func Wait(pid int) (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("wait for %d: %w", pid, err)
		}
		break
	}
	return ExitCode(ws), nil
}

// ExitCode turns a wait status into a shell-style exit code.
func ExitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// execCgroup places an exec'd process: in the container's cgroup, or in
// the sub-cgroups `exec --cgroup` names. startInit only calls Apply; the
// other methods are the container's manager.
type execCgroup struct {
	cgroups.Manager

	// dirs are the directories to join, one per hierarchy; nil means
	// the container's own cgroup.
	dirs    []string
	initPid int
}

// newExecCgroup checks subs against the container's cgroup paths and
// resolves each to a directory that must exist.
func newExecCgroup(mgr cgroups.Manager, subs map[string]string,
	initPid int) (*execCgroup, error) {

	e := &execCgroup{Manager: mgr, initPid: initPid}
	if len(subs) == 0 {
		return e, nil
	}
	paths := mgr.Paths()
	v2 := cgroups.IsCgroup2UnifiedMode()
	for ctrl := range subs {
		if v2 && ctrl != "" {
			return nil, fmt.Errorf("exec --cgroup %s:%s: cgroup v2 takes "+
				"a path without a controller", ctrl, subs[ctrl])
		}
		if _, ok := paths[ctrl]; !ok && ctrl != "" {
			return nil, fmt.Errorf("exec --cgroup: the container has no "+
				"%s cgroup", ctrl)
		}
	}
	for ctrl, base := range paths {
		unsafeSub, ok := subs[ctrl]
		if !ok {
			unsafeSub, ok = subs[""]
		}
		if !ok {
			e.dirs = append(e.dirs, base)
			continue
		}
		// CleanPath keeps ".." from climbing out of the container's
		// cgroup.
		dir := filepath.Join(base, cgroups.CleanPath("/"+unsafeSub))
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			if ctrl == "" && !v2 {
				// The hybrid unified hierarchy only holds hugetlb and
				// cgroup.kill; a sub-cgroup there is optional.
				e.dirs = append(e.dirs, base)
				continue
			}
			return nil, fmt.Errorf("exec --cgroup: sub-cgroup %q does "+
				"not exist in %s", unsafeSub, base)
		}
		e.dirs = append(e.dirs, dir)
	}
	return e, nil
}

// Apply moves pid into the sub-cgroups, or the container's cgroup. On
// cgroup v2 a container whose cgroup enabled controllers for its children
// takes no process itself ("no internal processes", cgroup-v2.rst); the
// process then joins init's cgroup, as runc does.
func (e *execCgroup) Apply(pid int) error {
	if e.dirs != nil {
		for _, dir := range e.dirs {
			if err := cgroups.WriteProcs(dir, pid); err != nil {
				return fmt.Errorf("join %s: %w", dir, err)
			}
		}
		return nil
	}
	err := e.Manager.Apply(pid)
	if err == nil || !cgroups.IsCgroup2UnifiedMode() {
		return err
	}
	dir, ierr := cgroupOfPid(e.initPid)
	if ierr != nil {
		return errors.Join(err, ierr)
	}
	if ierr := cgroups.WriteProcs(dir, pid); ierr != nil {
		return errors.Join(err, ierr)
	}
	return nil
}

// cgroupOfPid returns the cgroup v2 directory pid is in, from the "0::"
// line of /proc/PID/cgroup (see cgroups(7)).
func cgroupOfPid(pid int) (string, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	m, err := cgroups.ParseProcCgroup(f)
	if err != nil {
		return "", err
	}
	rel, ok := m[""]
	if !ok || strings.Contains(rel, "(deleted)") {
		return "", fmt.Errorf("cgroup of process %d not found", pid)
	}
	return filepath.Join(cgroups.UnifiedMountpoint, rel), nil
}
