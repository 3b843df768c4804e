package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/capabilities"
	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/dmz"
	"github.com/towel-runtime/towel/libcontainer/lsm"
	"github.com/towel-runtime/towel/libcontainer/procfs"
	"github.com/towel-runtime/towel/libcontainer/rootfs"
	"github.com/towel-runtime/towel/libcontainer/seccomp"
)

// Init is the Go side of `towel init`: it runs in the process the C stage
// cloned, inside the container's namespaces, and ends in execve(2) of the
// container process. It returns only to report a failure that could not
// be sent to the parent.
func Init() error {
	runtime.LockOSThread()
	closeInitExe()

	sockFd, err := strconv.Atoi(os.Getenv(envInitPipe))
	if err != nil {
		return fmt.Errorf("%s: %w", envInitPipe, err)
	}
	sock := os.NewFile(uintptr(sockFd), "init-sync")
	unix.CloseOnExec(sockFd)
	setupInitLogging()

	var cfg initConfig
	if _, err := readMsg(sock, &cfg); err != nil {
		return fmt.Errorf("read init config: %w", err)
	}
	i := &initState{cfg: &cfg, sock: sock}
	if err := i.run(); err != nil {
		// Best effort: the parent may be gone.
		_ = writeMsg(sock, syncMsg{Type: syncError, Message: err.Error()}, -1)
		os.Exit(1)
	}
	return nil
}

func setupInitLogging() {
	fd, err := strconv.Atoi(os.Getenv(envLogPipe))
	if err != nil {
		logrus.SetOutput(io_discard{})
		return
	}
	unix.CloseOnExec(fd)
	logrus.SetOutput(os.NewFile(uintptr(fd), "init-log"))
	logrus.SetFormatter(&logrus.JSONFormatter{})
	if lvl, err := logrus.ParseLevel(os.Getenv(envLogLevel)); err == nil {
		logrus.SetLevel(lvl)
	}
}

type io_discard struct{}

func (io_discard) Write(p []byte) (int, error) { return len(p), nil }

type initState struct {
	cfg  *initConfig
	sock *os.File

	// program and env are what exec runs, set by resolveProgram.
	program string
	env     []string

	// proc is the container's /proc, opened on first use.
	proc *procfs.Handle
	// stub, if set, is the dmz stub the program is exec'd through.
	stub *dmz.Stub
}

func (i *initState) run() error {
	if i.cfg.Mode == modeExec {
		return i.runExec()
	}
	return i.runCreate()
}

// runCreate sets up a new container, in the order of runtime-spec
// "Lifecycle" steps 2 to 6, and waits for `start` on the exec fifo.
func (i *initState) runCreate() error {
	c := i.cfg.Config
	p := i.cfg.Process

	// init leads a session of its own, as runc's does: criu dumps a
	// PID namespace only when its session leader is inside it.
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if !i.cfg.NoNewKeyring {
		if err := joinSessionKeyring(i.cfg.ID); err != nil {
			return err
		}
	}

	if err := lsm.CheckMountLabel(c.MountLabel); err != nil {
		return err
	}
	logrus.Debug("mounting the root file system")
	if err := rootfs.MountAllFrom(c, i.requestMountSource); err != nil {
		return err
	}
	h := c.Hooks
	if h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0) {
		if err := i.syncHooks(); err != nil {
			return err
		}
	}
	if h != nil && len(h.CreateContainer) > 0 {
		err := runHooks("createContainer", h.CreateContainer,
			i.cfg.HookState)
		if err != nil {
			return err
		}
	}
	if err := rootfs.PivotRoot(c); err != nil {
		return err
	}
	if p.Terminal {
		if err := i.setupConsole(true); err != nil {
			return err
		}
	}
	if c.Namespaces.Contains(configs.NEWNET) &&
		c.Namespaces.PathOf(configs.NEWNET) == "" {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if c.Namespaces.Contains(configs.NEWUTS) {
		if c.Hostname != "" {
			if err := unix.Sethostname([]byte(c.Hostname)); err != nil {
				return fmt.Errorf("sethostname: %w", err)
			}
		}
		if c.Domainname != "" {
			err := unix.Setdomainname([]byte(c.Domainname))
			if err != nil {
				return fmt.Errorf("setdomainname: %w", err)
			}
		}
	}
	// Before Finalize: readonlyPaths usually makes /proc/sys read-only.
	if err := writeSysctls(c.Sysctl); err != nil {
		return err
	}
	if err := rootfs.Finalize(c); err != nil {
		return err
	}
	if c.Personality != nil {
		if err := setPersonality(c.Personality); err != nil {
			return err
		}
	}
	if err := i.finishProcess(); err != nil {
		return err
	}

	fifoFd, err := strconv.Atoi(os.Getenv(envFifoFd))
	if err != nil {
		return fmt.Errorf("%s: %w", envFifoFd, err)
	}
	// A program that is not there is a create error, as in runc, not a
	// container that dies on start.
	if err := i.resolveProgram(); err != nil {
		return err
	}
	if err := i.ready(); err != nil {
		return err
	}

	// Block until `start` opens the other end. The fd is an O_PATH fd to
	// the fifo: reopen it through procfs for writing.
	fifo, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fifoFd),
		os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	if _, err := fifo.Write([]byte("0")); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	fifo.Close()
	unix.Close(fifoFd)

	if h != nil && len(h.StartContainer) > 0 {
		st := *i.cfg.HookState
		st.Status = specs.StateRunning
		err := runHooks("startContainer", h.StartContainer, &st)
		if err != nil {
			return err
		}
	}
	return i.exec()
}

// runExec prepares one more process in a running container; the C stage
// has already joined its namespaces and the parent its cgroup.
func (i *initState) runExec() error {
	if i.cfg.Process.Terminal {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid: %w", err)
		}
		if err := i.setupConsole(false); err != nil {
			return err
		}
	}
	if err := i.finishProcess(); err != nil {
		return err
	}
	if err := i.resolveProgram(); err != nil {
		return err
	}
	if err := i.ready(); err != nil {
		return err
	}
	return i.exec()
}

func (i *initState) syncHooks() error {
	if err := writeMsg(i.sock, syncMsg{Type: syncHooks}, -1); err != nil {
		return err
	}
	var msg syncMsg
	if _, err := readMsg(i.sock, &msg); err != nil {
		return fmt.Errorf("wait for hooks: %w", err)
	}
	if msg.Type != syncResume {
		return fmt.Errorf("unexpected message %q from parent", msg.Type)
	}
	return nil
}

// ready tells the parent setup is done and drops the socket, so that
// nothing of the parent's remains open in the container.
func (i *initState) ready() error {
	err := writeMsg(i.sock, syncMsg{Type: syncReady}, -1)
	i.sock.Close()
	// Nobody reads the log pipe once the parent has its answer.
	if out, ok := logrus.StandardLogger().Out.(*os.File); ok {
		logrus.SetOutput(io_discard{})
		out.Close()
	}
	return err
}

// finishProcess applies the process settings that must come after the
// file system is in place: rlimits, scheduling, user and groups,
// capabilities, no_new_privs, umask and cwd. The order follows
// capabilities(7): bounding set and PR_SET_KEEPCAPS before the user
// switch, the final sets after it.
func (i *initState) finishProcess() error {
	p := i.cfg.Process
	for _, rl := range p.Rlimits {
		if err := setRlimit(rl); err != nil {
			return err
		}
	}
	if p.OOMScoreAdj != nil && i.cfg.Mode == modeExec {
		if err := i.setOOMScoreAdj(*p.OOMScoreAdj); err != nil {
			return err
		}
	}
	if p.Scheduler != nil {
		if err := setScheduler(p.Scheduler); err != nil {
			return err
		}
	}
	if p.IOPriority != nil {
		if err := setIOPriority(p.IOPriority); err != nil {
			return err
		}
	}

	if err := i.applyLSM(); err != nil {
		return err
	}
	i.prepareDmz()
	caps, err := capabilities.FromSpec(p.Capabilities)
	if err != nil {
		return err
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which
	// only lasts until the capabilities are dropped.
	if !p.NoNewPrivileges {
		if err := i.loadSeccomp(); err != nil {
			return err
		}
	}
	// No capabilities in the config means none at all, bounding set
	// included, as runc does.
	if err := capabilities.DropBounding(caps.Bounding); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_KEEPCAPS: %w", err)
	}
	if err := chownStdio(int(p.User.UID)); err != nil {
		return err
	}
	if err := switchUser(p); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_KEEPCAPS: %w", err)
	}
	if err := capabilities.Apply(caps); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
		if err != nil {
			return fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
		}
		if err := i.loadSeccomp(); err != nil {
			return err
		}
	}
	i.checkDmz()
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	} else if i.cfg.Mode == modeCreate {
		unix.Umask(0o022)
	}
	if err := enterCwd(p.Cwd); err != nil {
		return err
	}
	return nil
}

// loadSeccomp loads the container's filter in this thread and hands a
// notify listener, if any, to the parent.
func (i *initState) loadSeccomp() error {
	if len(i.cfg.SeccompFilter) == 0 {
		return nil
	}
	var filter seccomp.Filter
	if err := filter.UnmarshalBinary(i.cfg.SeccompFilter); err != nil {
		return fmt.Errorf("decode seccomp filter: %w", err)
	}
	fd, err := filter.Load()
	if err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	return writeMsg(i.sock, syncMsg{Type: syncFd, Name: fdSeccomp}, fd)
}

// enterCwd changes to the process's cwd and checks it is inside the
// container's root: a cwd reached through an fd leaked from the host
// (/proc/self/fd/N) would resolve outside it.
func enterCwd(cwd string) error {
	if cwd == "" {
		cwd = "/"
	}
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir to cwd (%q) set in config.json failed: %w",
			cwd, err)
	}
	got, err := unix.Getwd()
	if err != nil || !filepath.IsAbs(got) {
		return fmt.Errorf("current working directory %q is outside of "+
			"the container's root", cwd)
	}
	return nil
}

// switchUser sets groups, gid and uid from process.user, and HOME from
// the container's /etc/passwd when the env lacks it.
func switchUser(p *specs.Process) error {
	u := p.User
	groups := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	// setgroups(2) is refused in a user namespace with setgroups
	// denied; an empty list is then the only possible one.
	if err := unix.Setgroups(groups); err != nil {
		if len(groups) > 0 || !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("setresgid %d: %w", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("setresuid %d: %w", u.UID, err)
	}
	return nil
}

// homeFor returns HOME for uid from /etc/passwd, "/" if it has none.
func homeFor(uid uint32) string {
	users, err := user.ParsePasswdFileFilter("/etc/passwd",
		func(u user.User) bool { return u.Uid == int(uid) })
	if err != nil || len(users) == 0 || users[0].Home == "" {
		return "/"
	}
	return users[0].Home
}

// resolveProgram finds the process's program and completes its env while
// the parent still listens, so that a missing program is reported to it.
func (i *initState) resolveProgram() error {
	p := i.cfg.Process
	if len(p.Args) == 0 {
		return errors.New("process args are empty")
	}
	env := p.Env
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+homeFor(p.User.UID))
	}
	name := p.Args[0]
	if strings.Contains(name, "/") {
		if err := unix.Access(name, unix.X_OK); err != nil {
			return fmt.Errorf("exec %q: %w", name, err)
		}
	} else {
		path, err := lookPath(name, env)
		if err != nil {
			return err
		}
		name = path
	}
	i.program, i.env = name, env
	return nil
}

// exec replaces init with the container process.
func (i *initState) exec() error {
	p := i.cfg.Process
	if err := markCloexecFrom(3 + i.cfg.PreserveFds); err != nil {
		return err
	}
	if i.stub != nil {
		err := i.execDmz()
		if !dmzRefused(err) {
			return fmt.Errorf("exec %q: %w", p.Args[0], err)
		}
		// A seccomp filter without execveat: exec directly.
	}
	err := unix.Exec(i.program, p.Args, i.env)
	return fmt.Errorf("exec %q: %w", p.Args[0], err)
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// lookPath finds name in the PATH of the container process's env.
func lookPath(name string, env []string) (string, error) {
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		cand := filepath.Join(dir, name)
		if err := unix.Access(cand, unix.X_OK); err == nil {
			var st unix.Stat_t
			if unix.Stat(cand, &st) == nil &&
				st.Mode&unix.S_IFMT == unix.S_IFREG {
				return cand, nil
			}
		}
	}
	return "", fmt.Errorf("exec: %q: %w", name, exec.ErrNotFound)
}
