package libcontainer

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/dmz"
	"github.com/towel-runtime/towel/libcontainer/lsm"
	"github.com/towel-runtime/towel/libcontainer/nsenter"
	"github.com/towel-runtime/towel/libcontainer/procfs"
)

// This file keeps the container's files, mounts and fds from steering the
// runtime: procfs writes go through a checked procfs (package procfs),
// LSM labels through package lsm, the process may be started through the
// dmz stub, and no fd of the runtime survives the exec.

// envDmz is runc's switch for the dmz stub, kept for drop-in
// compatibility. Only the runtime's own environment counts: the same
// variable in config.json is the container's business.
const envDmz = "RUNC_DMZ"

// writeHostProc writes data to /proc/PID/FILE on the host's procfs, once
// checked to be one, as the parent does for the first stage's id maps and
// oom_score_adj.
func writeHostProc(pid int, file string, data []byte) error {
	proc, err := procfs.Open("/proc")
	if err != nil {
		return err
	}
	defer proc.Close()
	return proc.WritePid(pid, file, data)
}

// wantDmz reports whether init should exec p through the dmz stub:
// RUNC_DMZ=true, a build that has the stub, and no LSM label that the
// extra exec could fall foul of. A policy written for the container's
// domain or profile need not let it execute the stub's memfd, or let the
// stub execute the program; runc 1.2 skips the stub with an SELinux label
// for the same reason.
func wantDmz(p *specs.Process) bool {
	if os.Getenv(envDmz) != "true" {
		return false
	}
	switch {
	case !dmz.HasStub():
		logrus.Debugf("dmz: %v; the process is exec'd directly", dmz.ErrNoStub)
	case p.SelinuxLabel != "" && lsm.SELinuxEnabled():
		logrus.Debug("dmz: skipped, the process has an SELinux label")
	case p.ApparmorProfile != "":
		logrus.Debug("dmz: skipped, the process has an AppArmor profile")
	default:
		return true
	}
	return false
}

// procfs returns the container's /proc, checked to be a real procfs, for
// the writes init makes after pivot_root (create) or setns (exec).
func (i *initState) procfs() (*procfs.Handle, error) {
	if i.proc != nil {
		return i.proc, nil
	}
	proc, err := procfs.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("container /proc: %w", err)
	}
	i.proc = proc
	return proc, nil
}

// setOOMScoreAdj writes the process's oom_score_adj, for exec: a new
// container's first stage gets it from the parent.
func (i *initState) setOOMScoreAdj(adj int) error {
	proc, err := i.procfs()
	if err == nil {
		err = proc.WriteFile("self/oom_score_adj", []byte(strconv.Itoa(adj)))
	}
	if err != nil {
		return fmt.Errorf("set oom_score_adj: %w", err)
	}
	return nil
}

// applyLSM sets the AppArmor profile and SELinux label the process gets
// at its execve(2).
func (i *initState) applyLSM() error {
	p := i.cfg.Process
	if p.ApparmorProfile == "" && p.SelinuxLabel == "" {
		return nil
	}
	proc, err := i.procfs()
	if err != nil {
		return err
	}
	return lsm.ApplyOnExec(proc, p.ApparmorProfile, p.SelinuxLabel)
}

// prepareDmz copies the stub into a sealed memfd while init still has the
// rights and the system calls to (before seccomp and the user switch).
// Where it cannot, the process is exec'd directly.
func (i *initState) prepareDmz() {
	if !i.cfg.Dmz {
		return
	}
	stub, err := dmz.NewStub()
	if err != nil {
		logrus.Debugf("dmz: %v; the process is exec'd directly", err)
		return
	}
	i.stub = stub
}

// checkDmz keeps the stub only if the process, with its final
// credentials, may execute it.
func (i *initState) checkDmz() {
	if i.stub == nil {
		return
	}
	if err := i.stub.CheckExec(); err != nil {
		logrus.Debugf("dmz: %v; the process is exec'd directly", err)
		i.stub.Close()
		i.stub = nil
		return
	}
	logrus.Debug("dmz: the process is exec'd through the dmz stub")
}

// execDmz execs the program through the stub. It returns only on failure;
// with EPERM, EACCES or ENOSYS, which a seccomp filter without execveat(2)
// gives, the caller may still exec the program directly.
func (i *initState) execDmz() error {
	restoreStartNofile(i.cfg.Process)
	return i.stub.Exec(i.program, i.cfg.Process.Args, i.env)
}

// dmzRefused reports whether err, from execDmz, is a refusal of the stub's
// execveat(2) rather than of the program.
func dmzRefused(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) ||
		errors.Is(err, unix.ENOSYS)
}

// restoreStartNofile puts back the soft RLIMIT_NOFILE init was started
// with, which the Go runtime raised and which syscall.Exec would restore,
// unless the process sets its own.
func restoreStartNofile(p *specs.Process) {
	for _, rl := range p.Rlimits {
		if rl.Type == "RLIMIT_NOFILE" {
			return
		}
	}
	cur, ok := nsenter.StartNofile()
	if !ok {
		return
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || cur > lim.Max {
		return
	}
	lim.Cur = cur
	// Best effort, as in syscall.Exec.
	_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
}

// markCloexecFrom marks every fd from first up close-on-exec with
// close_range(2) (Linux 5.11), which needs no /proc: in an exec'd-into
// container /proc is the container's to fake.
func markCloexecFrom(first int) error {
	err := unix.CloseRange(uint(first), math.MaxUint32,
		unix.CLOSE_RANGE_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("close_range", err)
	}
	return nil
}
