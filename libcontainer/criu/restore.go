package criu

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/checkpoint-restore/go-criu/v6/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// RestoreTarget is the container a Restore brings back: its
// configuration (from the bundle given to `restore`, which may differ from
// the checkpointed one in id, cgroup and bind sources) and its stdio.
type RestoreTarget struct {
	Config *configs.Config

	// StateDir is the new container's state directory; Restore makes a
	// mountpoint in it for the rootfs and removes it again.
	StateDir string

	// Stdin, Stdout and Stderr take the place of init's stdio where that
	// was a pipe, or a file outside the container, at dump time; nil
	// means /dev/null.
	Stdin, Stdout, Stderr *os.File
}

// rootName is the directory of the state dir where the rootfs is
// bind-mounted for criu, which wants its root to be a mountpoint whose
// parent is not over-mounted.
const rootName = "criu-root"

// Restore restores the checkpoint in o.ImagePath. The restored init is a
// child of the caller (criu restores it as its own sibling), and
// cb.PostRestore learns its pid. On error nothing restored is left
// running, but what cb.Started did (a cgroup) is the caller's to undo.
func Restore(t *RestoreTarget, o *Options, cb *Callbacks) error {
	if _, err := Probe(); err != nil {
		return err
	}
	if o.ImagePath == "" {
		return errors.New("no image path to restore from")
	}
	if cb == nil {
		cb = &Callbacks{}
	}

	// The directories are opened in the mount namespace criu runs in:
	// criu mounts below its work directory, which must be a mount of
	// its own namespace.
	if fi, err := os.Stat(o.ImagePath); err != nil || !fi.IsDir() {
		if err == nil {
			err = &os.PathError{Op: "open", Path: o.ImagePath,
				Err: unix.ENOTDIR}
		}
		return fmt.Errorf("image directory: %w", err)
	}
	logDir := o.ImagePath
	if o.WorkPath != "" {
		if err := os.MkdirAll(o.WorkPath, 0o700); err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		logDir = o.WorkPath
	}
	env := &restoreEnv{imagesFd: -1, workFd: -1,
		root: filepath.Join(t.StateDir, rootName)}

	var err error
	env.inherit, err = inheritStdio(o.ImagePath)
	if err != nil {
		return err
	}
	nsFiles, err := env.addNamespaces(t.Config)
	defer func() {
		for _, f := range nsFiles {
			f.Close()
		}
	}()
	if err != nil {
		return err
	}

	typ := rpc.CriuReqType_RESTORE
	req := &rpc.CriuReq{Type: &typ, Opts: restoreOpts(t.Config, o, env)}
	r := &swrkRun{
		req: req,
		files: swrkFiles{stdin: t.Stdin, stdout: t.Stdout,
			stderr: t.Stderr, extra: nsFiles},
		cb:       withCgroupOpts(cb, t.Config, req.Opts),
		statusFd: -1,
	}

	if err := os.Mkdir(env.root, 0o755); err != nil {
		return fmt.Errorf("create criu root: %w", err)
	}
	// The mounts are made in a mount namespace of a thread of our own,
	// which goes away with the thread, so none is ever left on the host.
	// There the root is an empty directory, which rmdir(2) may remove
	// while it is still a mountpoint in that namespace (Linux 3.18).
	done := make(chan error, 1)
	go func() { done <- runPrivate(t.Config, env.root, o, r) }()
	err = <-done
	if rmErr := os.Remove(env.root); rmErr != nil && err == nil {
		err = fmt.Errorf("remove criu root: %w", rmErr)
	}
	if err != nil {
		return withLog(err, filepath.Join(logDir, restoreLog))
	}
	return nil
}

// runPrivate runs r in a new mount namespace of this thread, with the
// rootfs bind-mounted at root and its mountpoints prepared. The thread is
// never unlocked: the Go runtime ends it with the goroutine, and the
// mount namespace with it.
func runPrivate(cfg *configs.Config, root string, o *Options,
	r *swrkRun) error {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	// Mounts made here must not reach the host; the host's still reach
	// us, as they reach a container.
	err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, "")
	if err != nil {
		return fmt.Errorf("make mounts slaves: %w", err)
	}
	err = unix.Mount(cfg.Rootfs, root, "", unix.MS_BIND|unix.MS_REC, "")
	if err != nil {
		return fmt.Errorf("bind rootfs on %s: %w", root, err)
	}
	if err := prepareMountpoints(cfg); err != nil {
		return err
	}

	images, err := openDir(o.ImagePath, false)
	if err != nil {
		return fmt.Errorf("image directory: %w", err)
	}
	defer images.Close()
	r.req.Opts.ImagesDirFd = proto.Int32(int32(images.Fd()))
	if o.WorkPath != "" {
		work, err := openDir(o.WorkPath, false)
		if err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		defer work.Close()
		r.req.Opts.WorkDirFd = proto.Int32(int32(work.Fd()))
	}
	_, err = r.run()
	return err
}

// withCgroupOpts wraps cb.Started so that, once the caller has put criu
// into the container's cgroup, criu is told to restore into that cgroup
// and what to bind-mount for the container's cgroup v1 directories.
func withCgroupOpts(cb *Callbacks, cfg *configs.Config, opts *rpc.CriuOpts,
) *Callbacks {
	wrapped := *cb
	wrapped.Started = func(criuPid int) error {
		if cb.Started != nil {
			if err := cb.Started(criuPid); err != nil {
				return err
			}
		}
		f, err := os.Open("/proc/" + strconv.Itoa(criuPid) + "/cgroup")
		if err != nil {
			return fmt.Errorf("read criu's cgroups: %w", err)
		}
		procCgroup, err := cgroups.ParseProcCgroup(f)
		f.Close()
		if err != nil {
			return err
		}
		opts.CgRoot = cgroupRoots(procCgroup)

		var binds map[string]string
		if dest, ok := hasV1CgroupBinds(cfg); ok {
			hs, err := cgroups.V1Hierarchies()
			if err != nil {
				return err
			}
			binds = cgroupV1Binds(procCgroup, hs, dest)
		}
		opts.ExtMnt = restoreExtMounts(cfg, binds)
		return nil
	}
	return &wrapped
}

// restoreEnv is what a restore request needs from the running system.
type restoreEnv struct {
	imagesFd, workFd int // workFd is -1 without a work directory
	root             string
	inherit          []*rpc.InheritFd
	joinNs           []*rpc.JoinNamespace
}

// restoreOpts builds the options of a restore request; the external
// mounts and cgroup roots are added once criu is in its cgroup.
func restoreOpts(cfg *configs.Config, o *Options, env *restoreEnv,
) *rpc.CriuOpts {
	cgMode := o.CgroupMode
	opts := &rpc.CriuOpts{
		ImagesDirFd:       proto.Int32(int32(env.imagesFd)),
		LogLevel:          proto.Int32(4),
		LogFile:           proto.String(restoreLog),
		Root:              proto.String(env.root),
		RstSibling:        proto.Bool(true),
		EvasiveDevices:    proto.Bool(true),
		ManageCgroups:     proto.Bool(true),
		ManageCgroupsMode: &cgMode,
		NotifyScripts:     proto.Bool(true),
		TcpEstablished:    proto.Bool(o.TCPEstablished),
		ExtUnixSk:         proto.Bool(o.ExtUnixSk),
		ShellJob:          proto.Bool(o.ShellJob),
		FileLocks:         proto.Bool(o.FileLocks),
		EmptyNs:           proto.Uint32(o.EmptyNs),
		OrphanPtsMaster:   proto.Bool(true),
		AutoDedup:         proto.Bool(o.AutoDedup),
		LazyPages:         proto.Bool(o.LazyPages),
		InheritFd:         env.inherit,
		JoinNs:            env.joinNs,
	}
	if env.workFd >= 0 {
		opts.WorkDirFd = proto.Int32(int32(env.workFd))
	}
	if o.LsmProfile != "" {
		opts.LsmProfile = proto.String(o.LsmProfile)
	}
	if o.LsmMountContext != "" {
		opts.LsmMountContext = proto.String(o.LsmMountContext)
	}
	setConfigFile(opts, cfg)
	return opts
}

// inheritStdio reads which of init's stdio were pipes or files outside
// the container at dump time and tells criu to use criu's own fd of the
// same number in their place. They cannot be restored otherwise: the
// other end of a pipe, or the file, is not in the images.
func inheritStdio(imagePath string) ([]*rpc.InheritFd, error) {
	p := filepath.Join(imagePath, descriptorsFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no checkpoint: %s is missing",
			imagePath, descriptorsFile)
	}
	if err != nil {
		return nil, err
	}
	var fds []string
	if err := json.Unmarshal(data, &fds); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	var inherit []*rpc.InheritFd
	for i, link := range fds {
		if strings.HasPrefix(link, "pipe:") ||
			strings.HasPrefix(link, "file[") {
			inherit = append(inherit, &rpc.InheritFd{
				Key: proto.String(link), Fd: proto.Int32(int32(i))})
		}
	}
	return inherit, nil
}

// addNamespaces handles the namespaces cfg joins by path: network and PID
// ones are handed to criu as fds under the names the dump gave them
// (criu gets the returned files after its socket); others criu joins by
// path itself.
func (env *restoreEnv) addNamespaces(cfg *configs.Config) ([]*os.File,
	error) {
	var files []*os.File
	for _, ns := range cfg.Namespaces {
		if ns.Path == "" {
			continue
		}
		switch ns.Type {
		case configs.NEWNET, configs.NEWPID:
			f, err := os.Open(ns.Path)
			if err != nil {
				return files, fmt.Errorf("%s namespace to restore "+
					"into: %w", ns.Type, err)
			}
			env.inherit = append(env.inherit, &rpc.InheritFd{
				Key: proto.String(nsKey(ns.Type.ProcName())),
				Fd:  proto.Int32(int32(firstExtraFd + len(files))),
			})
			files = append(files, f)
		case configs.NEWCGROUP:
			return files, errors.New("criu cannot restore into an " +
				"existing cgroup namespace")
		default:
			env.joinNs = append(env.joinNs, &rpc.JoinNamespace{
				Ns:     proto.String(ns.Type.ProcName()),
				NsFile: proto.String(ns.Path),
			})
		}
	}
	return files, nil
}
