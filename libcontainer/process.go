package libcontainer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/nsenter"
)

// initMode says what the Go init does once the C stage is done.
type initMode string

const (
	modeCreate initMode = "create" // set the container up, wait for start
	modeExec   initMode = "exec"   // run one more process in it
)

// initConfig is the first Go message the parent sends to init.
type initConfig struct {
	Mode    initMode        `json:"mode"`
	ID      string          `json:"id"`
	Config  *configs.Config `json:"config"`
	Process *specs.Process  `json:"process"`

	// PreserveFds is how many fds above stderr reach the process.
	PreserveFds int `json:"preserve_fds,omitempty"`

	// HookState is the state JSON given to hooks run inside init.
	HookState *specs.State `json:"hook_state,omitempty"`

	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool `json:"no_new_keyring,omitempty"`

	// SeccompFilter is the container's filter, compiled by the parent
	// (seccomp.Filter.MarshalBinary), for init to load last.
	SeccompFilter []byte `json:"seccomp_filter,omitempty"`

	// Dmz asks init to exec the process through the dmz stub.
	Dmz bool `json:"dmz,omitempty"`
}

// Env names the C stage and the Go init find their fds under.
const (
	envInitPipe = "_TOWEL_INITPIPE"
	envLogPipe  = "_TOWEL_LOGPIPE"
	envFifoFd   = "_TOWEL_FIFOFD"
	envLogLevel = "_TOWEL_LOGLEVEL"
)

// startSpec is what startInit needs for either mode.
type startSpec struct {
	bootstrap nsenter.Bootstrap

	// cgroup, if set, receives the first stage before it creates any
	// namespace, so init and everything it forks starts inside it.
	cgroup cgroups.Manager

	// uidMappings and gidMappings are written when a user namespace is
	// created; setgroupsDeny writes "deny" to setgroups first.
	uidMappings, gidMappings []configs.IDMap
	setgroupsDeny            bool

	oomScoreAdj *int

	// mountSource, if set, makes the source tree of a mount init asks
	// for, by its index in the config (see mountsource.go).
	mountSource func(initPid, index int) (*os.File, error)

	// preserved are passed at fds 3, 4, ...; extra follow them (the
	// pidfd to join for exec). fifo, if set, is the exec fifo (O_PATH).
	preserved []*os.File
	extra     []*os.File
	fifo      *os.File

	// stdio of init; files, so that no copying goroutine keeps the
	// first stage's Wait from returning.
	stdin, stdout, stderr *os.File

	// afterCgroup runs once the first stage exists and is in its
	// cgroup, before it creates any namespace; create records its state
	// and sets the limits there.
	afterCgroup func(stagePid int) error

	// config is sent to the Go init once its pid is known; makeConfig
	// may fill in what depends on that pid.
	makeConfig func(initPid int) *initConfig

	onHooks func(initPid int) error
	onFd    func(name string, f *os.File) error
}

// started is a running init after its setup went through.
type started struct {
	pid       int
	startTime uint64
}

// startInit starts `towel init` and drives it through the hand-off until
// it is ready. On error the init and its first stage are gone.
func startInit(s *startSpec) (res *started, retErr error) {
	pair, err := unix.Socketpair(unix.AF_UNIX,
		unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentSock := os.NewFile(uintptr(pair[0]), "init-sync-parent")
	childSock := os.NewFile(uintptr(pair[1]), "init-sync-child")
	defer parentSock.Close()
	defer childSock.Close()

	logR, logW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer logW.Close()
	logDone := make(chan struct{})
	go forwardLogs(logR, logDone)

	exe, err := initExecutable()
	if err != nil {
		return nil, err
	}
	defer exe.Close()

	files := append([]*os.File{}, s.preserved...)
	files = append(files, childSock, logW)
	env := []string{
		fmt.Sprintf("%s=%d", envInitPipe, 3+len(files)-2),
		fmt.Sprintf("%s=%d", envLogPipe, 3+len(files)-1),
		envLogLevel + "=" + logrus.GetLevel().String(),
		// init does one thing at a time; a fixed GOMAXPROCS also spares
		// the runtime reading (and keeping open) the cgroup's cpu limits.
		"GOMAXPROCS=1",
	}
	if s.fifo != nil {
		files = append(files, s.fifo)
		env = append(env, fmt.Sprintf("%s=%d", envFifoFd, 3+len(files)-1))
	}
	extraBase := 3 + len(files)
	files = append(files, s.extra...)
	if s.bootstrap.JoinPidfd >= 0 {
		// The caller put the pidfd first in extra.
		s.bootstrap.JoinPidfd = extraBase
	}

	cmd := &exec.Cmd{
		Args:       []string{os.Args[0], "init"},
		Env:        env,
		ExtraFiles: files,
		Stdin:      s.stdin,
		Stdout:     s.stdout,
		Stderr:     s.stderr,
	}
	exe.addTo(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	exe.started()
	childSock.Close()
	logW.Close()

	initPid := 0
	defer func() {
		if retErr == nil {
			return
		}
		// Let the forwarder print what init logged before it failed.
		defer func() { <-logDone }()
		// The first stage may still be in the hand-off; it and its
		// clone die with their socket, but do not wait on that.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if initPid > 0 {
			_ = unix.Kill(initPid, unix.SIGKILL)
			_, _ = unix.Wait4(initPid, nil, 0, nil)
		}
	}()

	stagePid := cmd.Process.Pid
	if s.oomScoreAdj != nil {
		err := writeHostProc(stagePid, "oom_score_adj",
			[]byte(strconv.Itoa(*s.oomScoreAdj)))
		if err != nil {
			return nil, fmt.Errorf("set oom_score_adj: %w", err)
		}
	}
	if s.cgroup != nil {
		if err := s.cgroup.Apply(stagePid); err != nil {
			return nil, fmt.Errorf("apply cgroup: %w", err)
		}
	}
	if s.afterCgroup != nil {
		if err := s.afterCgroup(stagePid); err != nil {
			return nil, err
		}
	}

	if _, err := parentSock.Write(s.bootstrap.Encode()); err != nil {
		return nil, fmt.Errorf("send bootstrap data: %w", err)
	}
	for initPid == 0 {
		code, value, err := nsenter.ReadMessage(parentSock)
		if err != nil {
			return nil, err
		}
		switch code {
		case nsenter.SyncUsermapReq:
			if err := writeIDMaps(stagePid, s); err != nil {
				return nil, err
			}
			if err := nsenter.WriteAck(parentSock); err != nil {
				return nil, err
			}
		case nsenter.SyncPid:
			initPid = int(value)
		default:
			return nil, fmt.Errorf("unexpected message %#x from init", code)
		}
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("init first stage: %w", err)
	}
	st, err := startTime(initPid)
	if err != nil {
		return nil, fmt.Errorf("read start time of init %d: %w", initPid, err)
	}

	initCfg := s.makeConfig(initPid)
	initCfg.Dmz = wantDmz(initCfg.Process)
	if err := writeMsg(parentSock, initCfg, -1); err != nil {
		return nil, fmt.Errorf("send config to init: %w", err)
	}
	for {
		var msg syncMsg
		f, err := readMsg(parentSock, &msg)
		if errors.Is(err, io.EOF) {
			return nil, initExitError(initPid)
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			return nil, fmt.Errorf("read from init: %w", err)
		}
		switch msg.Type {
		case syncHooks:
			if err := s.onHooks(initPid); err != nil {
				return nil, err
			}
			err := writeMsg(parentSock, syncMsg{Type: syncResume}, -1)
			if err != nil {
				return nil, err
			}
		case syncMount:
			err := sendMountSource(parentSock, s, initPid, msg.Index)
			if err != nil {
				return nil, err
			}
		case syncFd:
			if f == nil {
				return nil, fmt.Errorf("init sent %s without an fd",
					msg.Name)
			}
			if err := s.onFd(msg.Name, f); err != nil {
				return nil, err
			}
		case syncReady:
			return &started{pid: initPid, startTime: st}, nil
		case syncError:
			return nil, errors.New(msg.Message)
		default:
			return nil, fmt.Errorf("unexpected message %q from init",
				msg.Type)
		}
	}
}

// initExitError explains an init that closed its socket without a word.
func initExitError(pid int) error {
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err == nil {
		if ws.Signaled() {
			return fmt.Errorf("container init was killed by signal %d",
				ws.Signal())
		}
		return fmt.Errorf("container init exited with status %d",
			ws.ExitStatus())
	}
	return errors.New("container init exited unexpectedly")
}

// writeIDMaps writes the maps of the user namespace the first stage just
// made; see user_namespaces(7) for the order (setgroups before gid_map).
func writeIDMaps(pid int, s *startSpec) error {
	if s.setgroupsDeny {
		err := writeHostProc(pid, "setgroups", []byte("deny"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("write setgroups: %w", err)
		}
	}
	for _, m := range []struct {
		file string
		maps []configs.IDMap
	}{{"uid_map", s.uidMappings}, {"gid_map", s.gidMappings}} {
		if len(m.maps) == 0 {
			continue
		}
		var b strings.Builder
		for _, r := range m.maps {
			fmt.Fprintf(&b, "%d %d %d\n", r.ContainerID, r.HostID, r.Size)
		}
		if err := writeMap(pid, m.file, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// writeMap writes one id map, directly when we may, else through the
// setuid helper newuidmap/newgidmap, as an unprivileged user must.
func writeMap(pid int, file, content string) error {
	err := writeHostProc(pid, file, []byte(content))
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("write %s: %w", file, err)
	}
	helper := "newuidmap"
	if file == "gid_map" {
		helper = "newgidmap"
	}
	args := []string{strconv.Itoa(pid)}
	args = append(args, strings.Fields(content)...)
	out, herr := exec.Command(helper, args...).CombinedOutput()
	if herr != nil {
		return fmt.Errorf("write %s: %w; %s: %v: %s", file, err, helper,
			herr, strings.TrimSpace(string(out)))
	}
	return nil
}

// forwardLogs re-emits the JSON log lines init writes, at their level.
func forwardLogs(r *os.File, done chan<- struct{}) {
	defer close(done)
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			logrus.Debugf("init: %s", sc.Text())
			continue
		}
		lvl, err := logrus.ParseLevel(entry.Level)
		if err != nil {
			lvl = logrus.InfoLevel
		}
		logrus.StandardLogger().Log(lvl, "init: "+entry.Msg)
	}
}
