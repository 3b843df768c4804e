package libcontainer

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/nsenter"
)

// ExecOpts are the caller's choices for Exec.
type ExecOpts struct {
	// ConsoleSocket receives the pty master of a terminal process.
	ConsoleSocket string

	// PreserveFds passes fds 3 .. 3+N-1 to the process.
	PreserveFds int

	// SubCgroup, if set, is a cgroup below the container's to join, as
	// `exec --cgroup` asks (v2 path, or "controller:path" on v1).
	SubCgroup string

	// IgnorePaused allows exec into a paused container.
	IgnorePaused bool

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
	if opts.SubCgroup != "" {
		return nil, errors.New("exec --cgroup is not supported yet")
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
		cgroup:    mgr,
		preserved: inheritedFds(opts.PreserveFds),
		extra:     []*os.File{pidfdFile},
		stdin:     orStd(opts.Stdin, os.Stdin),
		stdout:    orStd(opts.Stdout, os.Stdout),
		stderr:    orStd(opts.Stderr, os.Stderr),
		makeConfig: func(pid int) *initConfig {
			proc.Pid = pid
			return &initConfig{
				Mode:        modeExec,
				ID:          c.ID,
				Config:      cfg,
				Process:     p,
				PreserveFds: opts.PreserveFds,
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
