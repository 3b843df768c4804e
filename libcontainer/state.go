package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// Errors callers branch on.
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrExist      = errors.New("container with given ID already exists")
	ErrInvalidID  = errors.New("invalid container ID format")
	ErrRunning    = errors.New("container is running")
	ErrNotRunning = errors.New("container is not running")
	ErrPaused     = errors.New("container is paused")
	ErrStopped    = errors.New("container is stopped")
)

const (
	// seccompCacheDir, under the root, holds compiled seccomp filters;
	// its name is not a valid container id, so it is never listed.
	seccompCacheDir = ":seccomp-cache"

	stateFile = "state.json"
	fifoName  = "exec.fifo"
	lockName  = ".lock"
)

// Status is a container's OCI status.
type Status string

// Statuses of runtime-spec "State", plus paused as runc reports it.
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// State is what towel keeps in ROOT/ID/state.json: all it needs to act on
// the container from a later command.
type State struct {
	ID string `json:"id"`

	// InitPid is the host pid of the container's init, and
	// InitStartTime its start time in clock ticks (/proc/PID/stat field
	// 22), which tells a reused pid apart.
	InitPid       int    `json:"init_pid"`
	InitStartTime uint64 `json:"init_start_time"`

	// Creating is set until create has finished; a container that stays
	// in it lost its towel process and can only be deleted.
	Creating bool `json:"creating,omitempty"`

	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Config      *configs.Config   `json:"config"`
	CgroupPaths map[string]string `json:"cgroup_paths,omitempty"`

	// SeccompFilter is the compiled filter of the container, which
	// every exec'd process gets too.
	SeccompFilter []byte `json:"seccomp_filter,omitempty"`

	// NamespacePaths are /proc/INIT/ns/* of each of its namespaces.
	NamespacePaths map[configs.NamespaceType]string `json:"namespace_paths"`
}

var idPattern = regexp.MustCompile(`^[\w+\-.]+$`)

// ValidateID checks a container id before it touches the file system:
// not "." or "..", nothing but [A-Za-z0-9_+.-], at most 1024 bytes.
func ValidateID(id string) error {
	if id == "" || len(id) > 1024 || !idPattern.MatchString(id) ||
		id == "." || id == ".." {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	return nil
}

// writeState writes state.json atomically: a temporary file, fsync,
// rename.
func writeState(dir string, s *State) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "state-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, stateFile))
}

func readState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", stateFile, err)
	}
	return &s, nil
}

// lock takes an exclusive flock on ROOT/ID/.lock, serialising commands
// on one container. Unlock by closing the returned file.
func lock(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName),
		os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}

// startTime reads field 22 of /proc/PID/stat; see proc(5).
func startTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parens: skip past
	// its last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return 0, os.ErrNotExist
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// newStateDir makes ROOT/ID for a new container and locks it; an id in
// use is ErrExist. The caller removes the directory if it fails later.
func newStateDir(root, id string) (dir string, lk *os.File, err error) {
	if err := os.MkdirAll(root, 0o711); err != nil {
		return "", nil, fmt.Errorf("create root %s: %w", root, err)
	}
	dir = filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return "", nil, fmt.Errorf("create state dir: %w", err)
	}
	lk, err = lock(dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, lk, nil
}
