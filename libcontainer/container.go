// Package libcontainer is towel's core: it creates a container from a
// validated configs.Config, keeps its state under the root directory, and
// acts on it later (start, signal, exec, destroy). It is usable as a Go
// library; the CLI in the repository root is one caller.
//
// The process model (parent, the C stage in nsenter, the Go init) is
// described in process.go and sync.go.
package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/manager"
	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/nsenter"
	"github.com/towel-runtime/towel/libcontainer/seccomp"
)

// Container is a handle on one container's state directory.
type Container struct {
	ID    string
	dir   string
	state *State
}

// CreateOpts are the caller's choices for Create that are not part of
// config.json.
type CreateOpts struct {
	// ConsoleSocket is a unix socket that receives the pty master of a
	// terminal container; empty keeps it in the returned Process.
	ConsoleSocket string

	// PreserveFds passes fds 3 .. 3+N-1 to the container process.
	PreserveFds int

	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool

	// NotifySocket is the caller's NOTIFY_SOCKET: if set, the container
	// gets a notify socket at the same path (see ListenNotify).
	NotifySocket string

	// Stdin, Stdout and Stderr are the stdio of init; nil means ours.
	Stdin, Stdout, Stderr *os.File
}

// Process is what Create and Exec hand back about the new process.
type Process struct {
	Pid       int
	StartTime uint64

	// Console is the pty master when the process has a terminal and no
	// console socket took it.
	Console *os.File
}

// Load opens the container id under root.
func Load(root, id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	st, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(dir); serr == nil {
			// A create killed before it wrote anything: an empty
			// container that can only be deleted.
			return &Container{ID: id, dir: dir,
				state: &State{ID: id, Creating: true}}, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrNotExist, id)
	}
	if err != nil {
		return nil, err
	}
	return &Container{ID: id, dir: dir, state: st}, nil
}

// Create makes container id under root from cfg: it starts init, which
// sets everything up and then waits for Start. Nothing is left behind
// when it fails.
func Create(root, id string, cfg *configs.Config, opts *CreateOpts) (
	c *Container, proc *Process, retErr error,
) {
	if err := ValidateID(id); err != nil {
		return nil, nil, err
	}
	dir, lk, err := newStateDir(root, id)
	if err != nil {
		return nil, nil, err
	}
	defer lk.Close()

	c = &Container{ID: id, dir: dir, state: &State{
		ID:             id,
		Creating:       true,
		Created:        time.Now().UTC(),
		Owner:          ownerName(),
		Config:         cfg,
		NamespacePaths: map[configs.NamespaceType]string{},
	}}
	var mgr cgroups.Manager
	// The error returns below clear c: clean up through a copy.
	created := c
	defer func() {
		if retErr != nil {
			created.cleanup(mgr)
		}
	}()

	mgr, err = manager.New(cfg.Cgroup, id, cfg.Rootless)
	if err != nil {
		return nil, nil, fmt.Errorf("cgroup: %w", err)
	}
	// runc 1.2 refuses a cgroup that already has processes or is frozen.
	if err := cgroups.CheckUnused(mgr); err != nil {
		mgr = nil // not ours to remove
		return nil, nil, fmt.Errorf("cgroup: %w", err)
	}
	rdt, err := newIntelRdt(cfg, id)
	if err != nil {
		return nil, nil, err
	}
	if rdt != nil {
		defer func() {
			if retErr != nil {
				_ = rdt.Destroy()
			}
		}()
	}

	if opts.NotifySocket != "" {
		err := setupNotifySocket(dir, cfg, opts.NotifySocket)
		if err != nil {
			return nil, nil, err
		}
	}

	fifoPath := filepath.Join(dir, fifoName)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return nil, nil, fmt.Errorf("create exec fifo: %w", err)
	}
	// init opens it after the switch to the process's user, who may be
	// anyone: writable by all, whatever our umask took away.
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return nil, nil, fmt.Errorf("chmod exec fifo: %w", err)
	}
	// init reopens the fifo for writing as the container's root, which
	// in a user namespace is not our root: make it the owner.
	if len(cfg.UIDMappings) > 0 {
		rootUID := hostID(cfg.UIDMappings, 0)
		rootGID := hostID(cfg.GIDMappings, 0)
		if err := os.Chown(fifoPath, rootUID, rootGID); err != nil {
			return nil, nil, fmt.Errorf("chown exec fifo: %w", err)
		}
	}
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()

	if cfg.Seccomp != nil {
		cache := seccomp.Cache{Dir: filepath.Join(root, seccompCacheDir)}
		filter, err := cache.Compile(cfg.Seccomp)
		if err != nil {
			return nil, nil, fmt.Errorf("seccomp: %w", err)
		}
		c.state.SeccompFilter, err = filter.MarshalBinary()
		if err != nil {
			return nil, nil, err
		}
	}

	proc = &Process{}
	sources := newMountSourceMaker(cfg)
	defer sources.Close()
	s := &startSpec{
		bootstrap:     bootstrapFor(cfg),
		cgroup:        mgr,
		uidMappings:   cfg.UIDMappings,
		gidMappings:   cfg.GIDMappings,
		setgroupsDeny: denySetgroups(cfg.GIDMappings),
		oomScoreAdj:   cfg.Process.OOMScoreAdj,
		preserved:     inheritedFds(opts.PreserveFds),
		fifo:          fifo,
		stdin:         orStd(opts.Stdin, os.Stdin),
		stdout:        orStd(opts.Stdout, os.Stdout),
		stderr:        orStd(opts.Stderr, os.Stderr),
		afterCgroup: func(stagePid int) error {
			// From here on a killed create leaves a cgroup that
			// only the saved state can find.
			c.state.CgroupPaths = mgr.Paths()
			if err := writeState(dir, c.state); err != nil {
				return err
			}
			if rdt != nil {
				if err := rdt.Apply(stagePid); err != nil {
					return err
				}
			}
			if r := cfg.Cgroup.Resources; r != nil {
				if err := mgr.Set(r); err != nil {
					return fmt.Errorf("set cgroup resources: %w", err)
				}
			}
			return nil
		},
		mountSource: sources.make,
		makeConfig: func(initPid int) *initConfig {
			proc.Pid = initPid
			return &initConfig{
				Mode:          modeCreate,
				ID:            id,
				Config:        cfg,
				Process:       cfg.Process,
				PreserveFds:   opts.PreserveFds,
				HookState:     c.ociState(initPid, Creating),
				NoNewKeyring:  opts.NoNewKeyring,
				SeccompFilter: c.state.SeccompFilter,
			}
		},
		onHooks: func(initPid int) error {
			st := c.ociState(initPid, Creating)
			if err := runHooks("prestart", cfg.Hooks.Prestart, st); err != nil {
				return err
			}
			return runHooks("createRuntime", cfg.Hooks.CreateRuntime, st)
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
		return nil, nil, err
	}
	proc.Pid, proc.StartTime = st.pid, st.startTime

	c.state.InitPid = st.pid
	c.state.InitStartTime = st.startTime
	c.state.Creating = false
	for _, ns := range cfg.Namespaces {
		c.state.NamespacePaths[ns.Type] = fmt.Sprintf("/proc/%d/ns/%s",
			st.pid, ns.Type.ProcName())
	}
	if err := writeState(dir, c.state); err != nil {
		return nil, nil, fmt.Errorf("save state: %w", err)
	}
	return c, proc, nil
}

func orStd(f, std *os.File) *os.File {
	if f != nil {
		return f
	}
	return std
}

// inheritedFds wraps fds 3 .. 3+n-1 of this process for passing on.
func inheritedFds(n int) []*os.File {
	files := make([]*os.File, n)
	for i := range files {
		files[i] = os.NewFile(uintptr(3+i), fmt.Sprintf("preserved-%d", 3+i))
	}
	return files
}

// handleFd takes an fd init sent: a console goes to the console socket
// or back to the caller, a seccomp listener to the agent of the profile.
func (c *Container) handleFd(name string, f *os.File, consoleSocket string,
	proc *Process,
) error {
	switch name {
	case fdConsole:
		if consoleSocket == "" {
			proc.Console = f
			return nil
		}
		defer f.Close()
		return sendConsole(consoleSocket, f)
	case fdSeccomp:
		defer f.Close()
		sc := c.state.Config.Seccomp
		if sc == nil || sc.ListenerPath == "" {
			return errors.New("seccomp notify is used without a " +
				"listenerPath")
		}
		initPid := c.state.InitPid
		if initPid == 0 {
			initPid = proc.Pid
		}
		st := &specs.ContainerProcessState{
			Version:  specs.Version,
			Pid:      proc.Pid,
			Metadata: sc.ListenerMetadata,
			State:    *c.ociState(initPid, Creating),
		}
		return seccomp.SendNotifyFd(sc.ListenerPath, st, int(f.Fd()))
	default:
		f.Close()
		return fmt.Errorf("init sent an unknown fd %q", name)
	}
}

// bootstrapFor builds the C stage's message for a new container.
func bootstrapFor(cfg *configs.Config) nsenter.Bootstrap {
	b := nsenter.Bootstrap{
		CloneFlags: cfg.Namespaces.CloneFlags(),
		JoinPidfd:  -1,
	}
	for _, t := range configs.AllNamespaceTypes {
		if p := cfg.Namespaces.PathOf(t); p != "" {
			b.NsPaths = append(b.NsPaths,
				nsenter.NsPath{Flag: t.CloneFlag(), Path: p})
		}
	}
	if len(cfg.TimeOffsets) > 0 {
		var sb strings.Builder
		for clock, off := range cfg.TimeOffsets {
			fmt.Fprintf(&sb, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
		b.TimeOffsets = sb.String()
	}
	return b
}

// hostID returns the host id that id inside the container maps to, id
// itself without a mapping.
func hostID(maps []configs.IDMap, id int64) int {
	for _, m := range maps {
		if id >= m.ContainerID && id < m.ContainerID+m.Size {
			return int(m.HostID + id - m.ContainerID)
		}
	}
	return int(id)
}

func ownerName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// cleanup undoes a failed create: init, cgroup, state dir.
func (c *Container) cleanup(mgr cgroups.Manager) {
	if mgr != nil {
		if err := mgr.Kill(); err != nil {
			logrus.Debugf("kill cgroup: %v", err)
		}
		if err := mgr.Destroy(); err != nil {
			logrus.Warnf("remove cgroup: %v", err)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		logrus.Warnf("remove state dir: %v", err)
	}
}

// State returns the saved state.
func (c *Container) State() *State { return c.state }

// Config returns the container's configuration, nil for a container whose
// create was killed before it saved one.
func (c *Container) Config() *configs.Config { return c.state.Config }

func (c *Container) cgroupManager() (cgroups.Manager, error) {
	if c.state.Config == nil || len(c.state.CgroupPaths) == 0 {
		return nil, nil
	}
	return manager.Load(c.state.Config.Cgroup, c.state.CgroupPaths)
}

// CgroupManager returns the manager of the container's cgroup, nil when
// it has none.
func (c *Container) CgroupManager() (cgroups.Manager, error) {
	return c.cgroupManager()
}

// initAlive reports whether the saved init pid is still the same process.
func (c *Container) initAlive() bool {
	if c.state.InitPid <= 0 {
		return false
	}
	st, err := startTime(c.state.InitPid)
	return err == nil && st == c.state.InitStartTime
}

// Status works the container's status out from its init and cgroup.
func (c *Container) Status() (Status, error) {
	if c.state.Creating {
		return Creating, nil
	}
	if !c.initAlive() {
		return Stopped, nil
	}
	if mgr, err := c.cgroupManager(); err == nil && mgr != nil {
		if frozen, err := mgr.Frozen(); err == nil && frozen {
			return Paused, nil
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, fifoName)); err == nil {
		return Created, nil
	}
	return Running, nil
}

// OCIState is the runtime-spec state of the container.
func (c *Container) OCIState() (*specs.State, error) {
	status, err := c.Status()
	if err != nil {
		return nil, err
	}
	pid := c.state.InitPid
	if status == Stopped {
		pid = 0
	}
	return c.ociState(pid, status), nil
}

func (c *Container) ociState(pid int, status Status) *specs.State {
	st := &specs.State{
		Version: specs.Version,
		ID:      c.ID,
		Status:  specs.ContainerState(status),
		Pid:     pid,
	}
	if cfg := c.state.Config; cfg != nil {
		st.Bundle = cfg.Bundle
		st.Annotations = cfg.Annotations
	}
	return st
}

// Start lets a created container's init exec the user process, then runs
// the poststart hooks.
func (c *Container) Start() error {
	lk, err := lock(c.dir)
	if err != nil {
		return err
	}
	defer lk.Close()

	status, err := c.Status()
	if err != nil {
		return err
	}
	switch status {
	case Created:
	case Stopped:
		return errors.New("cannot start a container that has stopped")
	case Running:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in the %s state",
			status)
	}
	if err := c.openFifo(); err != nil {
		return err
	}
	hooks := c.state.Config.Hooks
	if hooks != nil && len(hooks.Poststart) > 0 {
		st := c.ociState(c.state.InitPid, Running)
		if err := runHooks("poststart", hooks.Poststart, st); err != nil {
			// runtime-spec: a failed poststart hook is logged; the
			// container keeps running.
			logrus.Warn(err)
		}
	}
	return nil
}

// openFifo reads the byte init writes once it can exec, watching init's
// pidfd so that an init that died does not leave us blocked forever.
func (c *Container) openFifo() error {
	// The pidfd first: once the fifo is open, init may exec a program
	// that is gone before a pidfd could be taken.
	pidfd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)

	path := filepath.Join(c.dir, fifoName)
	fifo, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()
	fds := []unix.PollFd{
		{Fd: int32(fifo.Fd()), Events: unix.POLLIN},
		{Fd: int32(pidfd), Events: unix.POLLIN},
	}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for init: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			break
		}
		if fds[1].Revents != 0 {
			return errors.New("container init exited before start")
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
			return errors.New("exec fifo closed before start")
		}
	}
	var b [1]byte
	if n, err := unix.Read(int(fifo.Fd()), b[:]); err != nil || n != 1 {
		return fmt.Errorf("read exec fifo: %v", err)
	}
	return os.Remove(path)
}

// pidfd opens a pidfd of init and checks it is still the same process,
// so a reused pid is never acted on.
func (c *Container) pidfd() (int, error) {
	if c.state.InitPid <= 0 {
		return -1, ErrNotRunning
	}
	fd, err := unix.PidfdOpen(c.state.InitPid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return -1, ErrNotRunning
		}
		return -1, fmt.Errorf("pidfd_open %d: %w", c.state.InitPid, err)
	}
	if !c.initAlive() {
		unix.Close(fd)
		return -1, ErrNotRunning
	}
	return fd, nil
}

// Signal sends sig to init. Without a PID namespace of its own, the
// container's other processes would outlive init, so every process in its
// cgroup gets the signal.
func (c *Container) Signal(sig unix.Signal) error {
	status, err := c.Status()
	if err != nil {
		return err
	}
	if status == Stopped || status == Creating && !c.initAlive() {
		return ErrNotRunning
	}
	cfg := c.state.Config
	if cfg != nil && !cfg.Namespaces.Contains(configs.NEWPID) ||
		cfg != nil && cfg.Namespaces.PathOf(configs.NEWPID) != "" {
		if err := c.signalAll(sig); err != nil {
			return err
		}
		return nil
	}
	return c.signalInit(sig)
}

func (c *Container) signalInit(sig unix.Signal) error {
	fd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if err == unix.ESRCH {
			return ErrNotRunning
		}
		return fmt.Errorf("signal init: %w", err)
	}
	return nil
}

// signalAll signals every process of the cgroup: cgroup.kill for SIGKILL,
// else freeze, signal each, thaw, so none forks away in between.
func (c *Container) signalAll(sig unix.Signal) error {
	mgr, err := c.cgroupManager()
	if err != nil || mgr == nil {
		return c.signalInit(sig)
	}
	if sig == unix.SIGKILL {
		return mgr.Kill()
	}
	if err := mgr.Freeze(true); err != nil {
		logrus.Debugf("freeze before signal: %v", err)
	}
	defer func() {
		if err := mgr.Freeze(false); err != nil {
			logrus.Warnf("thaw after signal: %v", err)
		}
	}()
	pids, err := mgr.Pids()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			logrus.Warnf("signal %d: %v", pid, err)
		}
	}
	return nil
}

// Destroy kills whatever runs, removes the cgroup, runs the poststop
// hooks and removes the state. Pieces already gone are not an error.
func (c *Container) Destroy() error {
	lk, err := lock(c.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if lk != nil {
		defer lk.Close()
	}

	mgr, _ := c.cgroupManager()
	if c.initAlive() {
		c.killAndWait(mgr)
	} else if mgr != nil {
		// Processes of a container without its own PID namespace may
		// outlive init.
		_ = mgr.Kill()
	}
	var errs []error
	if mgr != nil {
		if err := mgr.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
		}
	}
	if rdt, err := c.intelRdtManager(); err == nil && rdt != nil {
		if err := rdt.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg := c.state.Config; cfg != nil && cfg.Hooks != nil &&
		!c.state.Creating {
		st := c.ociState(0, Stopped)
		if err := runHooks("poststop", cfg.Hooks.Poststop, st); err != nil {
			// runtime-spec: a failed poststop hook is only a warning.
			logrus.Warn(err)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killAndWait SIGKILLs init (and with it its PID namespace) and waits
// until it is gone.
func (c *Container) killAndWait(mgr cgroups.Manager) {
	fd, err := c.pidfd()
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if mgr != nil {
		// A paused container must be thawed for SIGKILL to be acted on
		// promptly on v1.
		_ = mgr.Kill()
		_ = mgr.Freeze(false)
	}
	_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for i := 0; i < 100; i++ {
		n, err := unix.Poll(fds, 100)
		if err == unix.EINTR {
			continue
		}
		if n > 0 || err != nil {
			break
		}
	}
	// Reap it if it is our child; harmless otherwise.
	_, _ = unix.Wait4(c.state.InitPid, nil, unix.WNOHANG, nil)
}

// Pause freezes the container.
func (c *Container) Pause() error {
	status, err := c.Status()
	if err != nil {
		return err
	}
	if status != Running && status != Created {
		return ErrNotRunning
	}
	mgr, err := c.cgroupManager()
	if err != nil {
		return err
	}
	if mgr == nil {
		return errors.New("container has no cgroup to freeze")
	}
	return mgr.Freeze(true)
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	status, err := c.Status()
	if err != nil {
		return err
	}
	if status != Paused {
		return errors.New("container not paused")
	}
	mgr, err := c.cgroupManager()
	if err != nil {
		return err
	}
	return mgr.Freeze(false)
}
