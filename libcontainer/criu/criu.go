// Package criu checkpoints and restores a container's processes with
// CRIU (criu(8)). It runs the criu binary found in $PATH in swrk mode,
// sends it one request built from the container's configuration and the
// user's options, and answers its notifications (namespaces ready,
// process restored, pty master orphaned) through callbacks.
//
// It does not keep container state: package libcontainer records what a
// dump ended or a restore began, and decides the container's fate.
//
// BUG(towel): checkpoint and restore need root; rootless containers and
// containers with a user namespace are untested, as with runc.
//
// BUG(towel): a network namespace the container was given is saved and
// restored empty, as with runc: its devices, addresses and routes are
// lost (towel configures none); libcontainer brings lo up again.
//
// BUG(towel): lazy migration (LazyPages) is untested: criu 4.2.1's page
// server fails with EBADF on Linux 6.18 as soon as pages are asked for.
package criu

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	gocriu "github.com/checkpoint-restore/go-criu/v6"
	"github.com/checkpoint-restore/go-criu/v6/rpc"
	"golang.org/x/sys/unix"
)

// MinVersion is the oldest criu towel drives, as criu's version RPC
// reports it (major*10000 + minor*100 + sublevel): 3.16 is the first with
// everything towel may ask for (cgroup v2 freezer, external PID
// namespaces, "status-ready" notifications, LSM profiles on restore).
const MinVersion = 31600

// Errors callers branch on.
var (
	// ErrNotFound: there is no criu in $PATH.
	ErrNotFound = errors.New("criu not found in $PATH")

	// ErrTooOld: criu is older than MinVersion.
	ErrTooOld = errors.New("criu is too old")

	// ErrUnusable: criu is there but `criu check` fails, as an old criu
	// does on a kernel newer than it knows.
	ErrUnusable = errors.New("criu does not work on this kernel")

	// ErrMissingFeature: criu reports that the kernel lacks something an
	// option needs (memory tracking for --pre-dump, userfaultfd for
	// --lazy-pages).
	ErrMissingFeature = errors.New("criu reports a missing kernel feature")
)

// Options are the user's choices for one checkpoint or restore, the flags
// of `checkpoint` and `restore`.
type Options struct {
	// ImagePath is the directory of the image files: written by a
	// checkpoint (and created if missing), read by a restore.
	ImagePath string

	// WorkPath is where criu writes its log (dump.log, restore.log) and
	// work files; empty means ImagePath.
	WorkPath string

	// ParentPath is the image directory of a previous pre-dump, relative
	// to ImagePath; a checkpoint then saves only the pages changed since.
	ParentPath string

	// LeaveRunning keeps the processes running after the checkpoint.
	LeaveRunning bool

	// TCPEstablished checkpoints and restores established TCP
	// connections; ExtUnixSk allows unix sockets connected to the
	// outside; ShellJob allows a process group or session led from
	// outside the container; FileLocks saves and restores file locks.
	TCPEstablished bool
	ExtUnixSk      bool
	ShellJob       bool
	FileLocks      bool

	// PreDump saves only the memory, leaving the processes running, to
	// shorten a later checkpoint that names this one as its parent.
	PreDump bool

	// AutoDedup frees image pages once restored or copied to a newer
	// image.
	AutoDedup bool

	// LazyPages leaves memory pages behind to be fetched on demand
	// (userfaultfd) from the page server.
	LazyPages bool

	// StatusFd, if not -1, is an fd of the caller to which a lazy-pages
	// checkpoint writes one \0 byte once the page server is ready.
	StatusFd int

	// PageServer is the "ADDRESS:PORT" of a page server to send the
	// pages to, if not empty.
	PageServer string

	// CgroupMode says what criu does with cgroups; see ParseCgroupMode.
	CgroupMode rpc.CriuCgMode

	// EmptyNs are CLONE_NEW* flags of namespaces whose contents are not
	// saved: restore makes them anew and empty.
	EmptyNs uint32

	// LsmProfile and LsmMountContext replace the process's LSM profile
	// and the mounts' SELinux context on restore.
	LsmProfile      string
	LsmMountContext string
}

// ParseCgroupMode turns --manage-cgroups-mode into criu's mode. "" lets
// criu pick (soft); "ignore" (runc 1.2) neither saves nor restores
// anything of the cgroups.
func ParseCgroupMode(mode string) (rpc.CriuCgMode, error) {
	switch mode {
	case "":
		return rpc.CriuCgMode_DEFAULT, nil
	case "soft":
		return rpc.CriuCgMode_SOFT, nil
	case "full":
		return rpc.CriuCgMode_FULL, nil
	case "strict":
		return rpc.CriuCgMode_STRICT, nil
	case "ignore":
		return rpc.CriuCgMode_IGNORE, nil
	}
	return 0, fmt.Errorf("invalid --manage-cgroups-mode %q: want soft, "+
		"full, strict or ignore", mode)
}

// ParsePageServer splits "ADDRESS:PORT".
func ParsePageServer(s string) (*rpc.CriuPageServerInfo, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("invalid --page-server %q: want ADDRESS:PORT", s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("invalid --page-server port %q", port)
	}
	p := int32(n)
	return &rpc.CriuPageServerInfo{Address: &host, Port: &p}, nil
}

// probeResult is what Probe learnt, once per process.
var probeResult struct {
	once    sync.Once
	version int
	err     error
}

// Probe finds criu in $PATH and checks that it can work here: that
// `criu check` passes and that it is at least MinVersion. It returns the
// version. The answer is kept for the life of the process.
func Probe() (int, error) {
	p := &probeResult
	p.once.Do(func() { p.version, p.err = probe() })
	return p.version, p.err
}

func probe() (int, error) {
	path, err := exec.LookPath("criu")
	if err != nil {
		return 0, fmt.Errorf("%w: install criu %s or newer",
			ErrNotFound, versionString(MinVersion))
	}

	// `criu check` is what criu itself offers to tell whether it can
	// work with the running kernel; a criu too old for the kernel fails
	// it while its version RPC still answers.
	var out bytes.Buffer
	cmd := exec.Command(path, "check")
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%w: %s check: %s", ErrUnusable, path,
			lastError(out.String(), err))
	}

	c := gocriu.MakeCriu()
	c.SetCriuPath(path)
	v, err := c.GetCriuVersion()
	if err != nil {
		return 0, fmt.Errorf("ask %s for its version: %w", path, err)
	}
	if v < MinVersion {
		return v, fmt.Errorf("%w: %s is version %s, towel needs %s or "+
			"newer", ErrTooOld, path, versionString(v),
			versionString(MinVersion))
	}
	return v, nil
}

// lastError picks the last "Error (file:line): message" line of criu's
// output, without its source position, or err if there is none.
func lastError(out string, err error) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "Error") {
			continue
		}
		if _, msg, ok := strings.Cut(line, "): "); ok {
			return msg
		}
		return line
	}
	return err.Error()
}

// versionString prints a version number as criu's release does.
func versionString(v int) string {
	s := fmt.Sprintf("%d.%d", v/10000, v/100%100)
	if v%100 != 0 {
		s += "." + strconv.Itoa(v%100)
	}
	return s
}

// nsKey is the key criu knows an external namespace by, in `--external
// net[INODE]:KEY` on dump and `--inherit-fd fd[N]:KEY` on restore. runc
// uses these names; keeping them lets either runtime restore the other's
// images.
func nsKey(nsFile string) string {
	return "extRoot" + strings.ToUpper(nsFile[:1]) + nsFile[1:] + "NS"
}

// openDir creates (when create is set) and opens a directory for criu.
// criu is told the fd's number and opens it through /proc/PID/fd of its
// peer on the swrk socket, so the fd stays close-on-exec.
func openDir(path string, create bool) (*os.File, error) {
	if create {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}
