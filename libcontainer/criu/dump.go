package criu

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/checkpoint-restore/go-criu/v6/rpc"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// Names in the image and work directories, as runc uses them, so that
// tools around runc find the logs and either runtime reads the other's
// images.
const (
	dumpLog    = "dump.log"
	restoreLog = "restore.log"

	// descriptorsFile holds what fds 0, 1 and 2 of init were at dump
	// time, a JSON list of strings; see stdioDescriptors.
	descriptorsFile = "descriptors.json"
)

// configAnnotation names a criu configuration file for one container;
// without it criu reads defaultConfigFile if that exists; set to "" it
// reads none. Settings in the file override towel's.
const (
	configAnnotation  = "org.criu.config"
	defaultConfigFile = "/etc/criu/runc.conf"
)

// Target is the running container Dump checkpoints.
type Target struct {
	Config  *configs.Config
	InitPid int

	// FreezerCgroup is the directory of the container's freezer cgroup
	// (v1) or of its cgroup (v2). criu freezes the processes through it,
	// so that none forks away while it works; empty means one by one
	// with ptrace.
	FreezerCgroup string
}

// Dump checkpoints the container into o.ImagePath (created if missing).
// Unless o.LeaveRunning or o.PreDump is set, the container's processes
// are gone when it returns nil; on error they run on as before.
func Dump(t *Target, o *Options, cb *Callbacks) error {
	if _, err := Probe(); err != nil {
		return err
	}
	if err := checkDumpOptions(o); err != nil {
		return err
	}
	if cb == nil {
		cb = &Callbacks{}
	}

	// Ask criu about the kernel before anything is written.
	if o.PreDump {
		err := needFeature(&rpc.CriuFeatures{MemTrack: proto.Bool(true)},
			"--pre-dump needs memory change tracking (soft-dirty bits in "+
				"the page tables), which this kernel does not have")
		if err != nil {
			return err
		}
	}
	if o.LazyPages {
		err := needFeature(&rpc.CriuFeatures{LazyPages: proto.Bool(true)},
			"--lazy-pages needs userfaultfd, which this kernel does not "+
				"offer")
		if err != nil {
			return err
		}
	}

	env := &dumpEnv{workFd: -1}
	var err error
	if !o.PreDump {
		if dest, ok := hasV1CgroupBinds(t.Config); ok {
			env.cgroupMounts, err = containerCgroupMounts(t.InitPid, dest)
			if err != nil {
				return err
			}
		}
		env.maskedFiles, err = maskedFiles(t.Config, t.InitPid)
		if err != nil {
			return err
		}
	}
	env.external, err = externalNamespaces(t.Config)
	if err != nil {
		return err
	}
	var stdio []string
	if !o.PreDump {
		var ext []string
		stdio, ext, err = stdioDescriptors(t.InitPid)
		if err != nil {
			return err
		}
		env.external = append(env.external, ext...)
	}

	images, err := openDir(o.ImagePath, true)
	if err != nil {
		return fmt.Errorf("image directory: %w", err)
	}
	defer images.Close()
	env.imagesFd = int(images.Fd())
	logDir := o.ImagePath
	if o.WorkPath != "" {
		work, err := openDir(o.WorkPath, true)
		if err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		defer work.Close()
		env.workFd = int(work.Fd())
		logDir = o.WorkPath
	}

	if !o.PreDump {
		if err := writeDescriptors(o.ImagePath, stdio); err != nil {
			return err
		}
	}

	typ := rpc.CriuReqType_DUMP
	if o.PreDump {
		typ = rpc.CriuReqType_PRE_DUMP
	}
	r := &swrkRun{
		req:      &rpc.CriuReq{Type: &typ, Opts: dumpOpts(t, o, env)},
		cb:       cb,
		statusFd: -1,
	}
	if o.LazyPages && o.StatusFd >= 0 {
		r.statusFd = o.StatusFd
		// Ours alone: a copy in criu would keep whoever waits on it
		// from seeing end-of-file.
		unix.CloseOnExec(o.StatusFd)
	}
	if _, err := r.run(); err != nil {
		return withLog(err, filepath.Join(logDir, dumpLog))
	}
	return nil
}

// checkDumpOptions refuses what criu would refuse later, less clearly.
func checkDumpOptions(o *Options) error {
	if o.ImagePath == "" {
		return errors.New("no image path to checkpoint into")
	}
	if o.ParentPath != "" {
		if filepath.IsAbs(o.ParentPath) {
			return errors.New("--parent-path must be relative to " +
				"--image-path")
		}
		p := filepath.Join(o.ImagePath, o.ParentPath)
		fi, err := os.Stat(p)
		if err == nil && !fi.IsDir() {
			err = &os.PathError{Op: "stat", Path: p, Err: unix.ENOTDIR}
		}
		if err != nil {
			return fmt.Errorf("invalid --parent-path: %w", err)
		}
	}
	if o.PageServer != "" {
		if _, err := ParsePageServer(o.PageServer); err != nil {
			return err
		}
	}
	if o.LazyPages && o.StatusFd >= 0 {
		flags, err := unix.FcntlInt(uintptr(o.StatusFd), unix.F_GETFL, 0)
		if err != nil {
			return fmt.Errorf("invalid --status-fd %d: %w", o.StatusFd, err)
		}
		if flags&unix.O_ACCMODE == unix.O_RDONLY {
			return fmt.Errorf("invalid --status-fd %d: not open for "+
				"writing", o.StatusFd)
		}
	}
	return nil
}

// dumpEnv is what a dump request needs from the running system.
type dumpEnv struct {
	imagesFd, workFd int // workFd is -1 without a work directory

	// cgroupMounts are the container's cgroup v1 bind mounts, and
	// maskedFiles its masked paths that are files.
	cgroupMounts []string
	maskedFiles  []string

	// external are criu's "--external" entries of joined namespaces.
	external []string
}

// dumpOpts builds the options of a dump or pre-dump request.
func dumpOpts(t *Target, o *Options, env *dumpEnv) *rpc.CriuOpts {
	cgMode := o.CgroupMode
	opts := &rpc.CriuOpts{
		ImagesDirFd:       proto.Int32(int32(env.imagesFd)),
		LogLevel:          proto.Int32(4),
		LogFile:           proto.String(dumpLog),
		Root:              proto.String(t.Config.Rootfs),
		Pid:               proto.Int32(int32(t.InitPid)),
		ManageCgroups:     proto.Bool(true),
		ManageCgroupsMode: &cgMode,
		NotifyScripts:     proto.Bool(true),
		LeaveRunning:      proto.Bool(o.LeaveRunning),
		TcpEstablished:    proto.Bool(o.TCPEstablished),
		ExtUnixSk:         proto.Bool(o.ExtUnixSk),
		ShellJob:          proto.Bool(o.ShellJob),
		FileLocks:         proto.Bool(o.FileLocks),
		EmptyNs:           proto.Uint32(o.EmptyNs),
		OrphanPtsMaster:   proto.Bool(true),
		AutoDedup:         proto.Bool(o.AutoDedup),
		LazyPages:         proto.Bool(o.LazyPages),
		External:          env.external,
	}
	if env.workFd >= 0 {
		opts.WorkDirFd = proto.Int32(int32(env.workFd))
	}
	if t.FreezerCgroup != "" {
		opts.FreezeCgroup = proto.String(t.FreezerCgroup)
	}
	if o.PageServer != "" {
		// checkDumpOptions has parsed it already.
		opts.Ps, _ = ParsePageServer(o.PageServer)
	}
	if o.ParentPath != "" {
		opts.ParentImg = proto.String(o.ParentPath)
		opts.TrackMem = proto.Bool(true)
	}
	setConfigFile(opts, t.Config)
	if !o.PreDump {
		opts.ExtMnt = dumpExtMounts(t.Config, env.cgroupMounts,
			env.maskedFiles)
	}
	return opts
}

// setConfigFile points criu at the container's configuration file.
func setConfigFile(opts *rpc.CriuOpts, cfg *configs.Config) {
	file, ok := cfg.Annotations[configAnnotation]
	if !ok {
		file = defaultConfigFile
	}
	if file != "" {
		opts.ConfigFile = proto.String(file)
	}
}

// externalNamespaces names the network and PID namespaces the container
// joined by path: criu leaves them out of the images, and a restore
// joins whatever namespace is at that path then.
func externalNamespaces(cfg *configs.Config) ([]string, error) {
	var ext []string
	for _, t := range []configs.NamespaceType{configs.NEWNET, configs.NEWPID} {
		p := cfg.Namespaces.PathOf(t)
		if p == "" {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return nil, fmt.Errorf("%s namespace %s: %w", t, p, err)
		}
		ext = append(ext, fmt.Sprintf("%s[%d]:%s", t.ProcName(), st.Ino,
			nsKey(t.ProcName())))
	}
	return ext, nil
}

// stdioDescriptors says what init's fds 0, 1 and 2 are, for the restore
// to hand the restored process its own stdio in their place: the
// readlink of /proc/PID/fd/N ("pipe:[1234]", "/dev/null"), as runc
// records it, or for a regular file on a mount outside the container (a
// log file of the caller's) criu's external name of it, "file[MNT:INO]"
// in hex, which is also returned in external: criu cannot save such a
// file, only leave it out.
func stdioDescriptors(pid int) (fds, external []string, err error) {
	infos, err := mountinfo.PidMountInfo(pid)
	if err != nil {
		return nil, nil, fmt.Errorf("read mounts of %d: %w", pid, err)
	}
	inside := map[int]bool{}
	for _, mi := range infos {
		inside[mi.ID] = true
	}

	fds = make([]string, 3)
	proc := "/proc/" + strconv.Itoa(pid)
	for i := range fds {
		n := strconv.Itoa(i)
		link, err := os.Readlink(proc + "/fd/" + n)
		if err != nil {
			// A closed fd: nothing to restore.
			continue
		}
		fds[i] = link
		var st unix.Stat_t
		if err := unix.Stat(proc+"/fd/"+n, &st); err != nil ||
			st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		mntID, err := fdMountID(proc + "/fdinfo/" + n)
		if err != nil {
			return nil, nil, err
		}
		if !inside[mntID] {
			fds[i] = fmt.Sprintf("file[%x:%x]", mntID, st.Ino)
			external = append(external, fds[i])
		}
	}
	return fds, external, nil
}

// fdMountID reads the mnt_id line of /proc/PID/fdinfo/N (proc(5)).
func fdMountID(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "mnt_id:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("%s: no mnt_id", path)
}

// writeDescriptors saves what stdioDescriptors found, a JSON list.
func writeDescriptors(imagePath string, fds []string) error {
	data, err := json.Marshal(fds)
	if err != nil {
		return err
	}
	p := filepath.Join(imagePath, descriptorsFile)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return fmt.Errorf("save init's descriptors: %w", err)
	}
	return nil
}

// needFeature asks criu whether the kernel has a feature, and turns a no
// into ErrMissingFeature with why.
func needFeature(want *rpc.CriuFeatures, why string) error {
	typ := rpc.CriuReqType_FEATURE_CHECK
	r := &swrkRun{
		req:      &rpc.CriuReq{Type: &typ, Features: want},
		cb:       &Callbacks{},
		statusFd: -1,
	}
	resp, err := r.run()
	if err != nil {
		return fmt.Errorf("criu feature check: %w", err)
	}
	got := resp.GetFeatures()
	if want.MemTrack != nil && !got.GetMemTrack() ||
		want.LazyPages != nil && !got.GetLazyPages() {
		return fmt.Errorf("%w: %s", ErrMissingFeature, why)
	}
	return nil
}
