// Package userns reads and makes user namespaces for the runtime's parent
// process: the id maps of a namespace a container joins by path, and a
// namespace that holds given maps, which an id-mapped mount needs
// (mount_setattr(2), MOUNT_ATTR_IDMAP, takes the maps of a user namespace
// fd).
//
// It does not make the container's own user namespace: the C stage in
// nsenter does, and the parent writes its maps.
//
// BUG(towel): New holds its helper process with ptrace(2) (PTRACE_TRACEME);
// where Yama's ptrace_scope is 3 that is refused, and so are id-mapped
// mounts whose maps are not the container's own.
//
// BUG(towel): MapsOf reads a namespace's maps through a process in it; the
// maps of a namespace that only a bind mount keeps alive cannot be read.
package userns

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// ErrNoProcess is returned by MapsOf for a user namespace no process is
// in, whose maps procfs cannot show.
var ErrNoProcess = errors.New("no process is in the user namespace")

// Format writes maps in the format of /proc/PID/uid_map
// (user_namespaces(7)): one "inside outside count" line per range.
func Format(maps []configs.IDMap) string {
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	return b.String()
}

// Parse reads maps in the format of /proc/PID/uid_map, whose columns
// procfs pads with spaces.
func Parse(r io.Reader) ([]configs.IDMap, error) {
	var maps []configs.IDMap
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("id map line %q: want 3 fields",
				sc.Text())
		}
		var v [3]int64
		for i, f := range fields {
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("id map line %q: %w", sc.Text(), err)
			}
			v[i] = int64(n)
		}
		maps = append(maps, configs.IDMap{ContainerID: v[0], HostID: v[1],
			Size: v[2]})
	}
	return maps, sc.Err()
}

// MapsOf returns the uid and gid maps of the user namespace at nsPath, an
// nsfs file such as /proc/PID/ns/user or a bind mount of one. procfs
// shows a namespace's maps only through a process in it: for a path other
// than /proc/PID/ns/user every process is looked at, and ErrNoProcess is
// returned when none is in that namespace.
func MapsOf(nsPath string) (uidMaps, gidMaps []configs.IDMap, err error) {
	var want unix.Stat_t
	if err := unix.Stat(nsPath, &want); err != nil {
		return nil, nil, &os.PathError{Op: "stat", Path: nsPath, Err: err}
	}
	pid, err := pidIn(nsPath, &want)
	if err != nil {
		return nil, nil, err
	}
	dir := "/proc/" + strconv.Itoa(pid)
	uidMaps, err = readMapFile(dir + "/uid_map")
	if err == nil {
		gidMaps, err = readMapFile(dir + "/gid_map")
	}
	if err != nil {
		return nil, nil, err
	}
	// The process may have left the namespace, or exited and its pid
	// been reused, while the maps were read.
	var got unix.Stat_t
	if err := unix.Stat(dir+"/ns/user", &got); err != nil ||
		got.Dev != want.Dev || got.Ino != want.Ino {
		return nil, nil, fmt.Errorf("read maps of %s: the process left "+
			"the namespace", nsPath)
	}
	return uidMaps, gidMaps, nil
}

// pidIn finds a process in the user namespace st describes.
func pidIn(nsPath string, st *unix.Stat_t) (int, error) {
	if rest, ok := strings.CutPrefix(filepath.Clean(nsPath), "/proc/"); ok {
		if p, ok := strings.CutSuffix(rest, "/ns/user"); ok {
			if pid, err := strconv.Atoi(p); err == nil {
				return pid, nil
			}
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var cur unix.Stat_t
		err = unix.Stat("/proc/"+e.Name()+"/ns/user", &cur)
		if err == nil && cur.Dev == st.Dev && cur.Ino == st.Ino {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("read maps of %s: %w", nsPath, ErrNoProcess)
}

func readMapFile(path string) ([]configs.IDMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	maps, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return maps, nil
}

// Equal reports whether a and b are the same maps, range by range.
func Equal(a, b []configs.IDMap) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// New returns an fd of a new user namespace with uidMaps and gidMaps, owned
// by the caller's. It needs the rights to write those maps: root, or the
// caller's own ids only.
//
// A namespace needs a process to be made in and to have its maps written
// for it. The process is this binary, started under ptrace(2): it stops
// at its first instruction after execve(2), runs nothing, and is killed as
// soon as its namespace is open; the namespace lives on through the fd.
func New(uidMaps, gidMaps []configs.IDMap) (*os.File, error) {
	// ptrace(2) ties a tracee to the thread that started it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devNull.Close()
	proc, err := os.StartProcess("/proc/self/exe", []string{"userns"},
		&os.ProcAttr{
			Env:   []string{},
			Files: []*os.File{devNull, devNull, devNull},
			Sys: &syscall.SysProcAttr{
				Cloneflags:  unix.CLONE_NEWUSER,
				UidMappings: sysMaps(uidMaps),
				GidMappings: sysMaps(gidMaps),
				Ptrace:      true,
				Pdeathsig:   unix.SIGKILL,
			},
		})
	if err != nil {
		return nil, fmt.Errorf("make user namespace with maps %q %q: %w",
			Format(uidMaps), Format(gidMaps), err)
	}
	defer reap(proc)
	path := "/proc/" + strconv.Itoa(proc.Pid) + "/ns/user"
	ns, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open new user namespace: %w", err)
	}
	return ns, nil
}

// reap kills the stopped tracee and waits until it is gone. The ptrace
// stop may be reported before the exit, so wait4(2) is called until the
// exit is.
func reap(proc *os.Process) {
	_ = proc.Kill()
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(proc.Pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			break
		}
	}
	_ = proc.Release()
}

func sysMaps(maps []configs.IDMap) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(maps))
	for i, m := range maps {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID),
			HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}
