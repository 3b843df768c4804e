package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/rootfs"
	"github.com/towel-runtime/towel/libcontainer/userns"
)

// Mount sources made by the parent.
//
// Some mounts cannot be made by init: an id-mapped mount needs
// CAP_SYS_ADMIN over the source's file system, which only the host's user
// namespace has, while init runs in the container's. The parent makes
// those trees (rootfs.NeedsSource says which) once the C stage has
// reported init's pid, cloning them in init's mount namespace (see
// inMountNamespaceOf), and sends them right after init's config, one
// syncFd message named fdMount each, in the order of cfg.Mounts. init
// reads them before it mounts anything; the fds arrive close-on-exec.

// fdMount names a mount tree sent with syncFd.
const fdMount = "mount"

// makeMountSources makes the trees cfg's mounts need, for the container
// whose init is initPid. The caller closes them.
func makeMountSources(cfg *configs.Config, initPid int) (
	files []*os.File, retErr error) {
	var mounts []*configs.Mount
	for _, m := range cfg.Mounts {
		if rootfs.NeedsSource(m) {
			mounts = append(mounts, m)
		}
	}
	if len(mounts) == 0 {
		return nil, nil
	}

	nsFds := map[string]*os.File{}
	defer func() {
		for _, f := range nsFds {
			f.Close()
		}
	}()
	usernsFds := make([]*os.File, len(mounts))
	for i, m := range mounts {
		ns, err := idmapUserns(cfg, m.IDMapping, initPid, nsFds)
		if err != nil {
			return nil, fmt.Errorf("mount %q: %w", m.Destination, err)
		}
		usernsFds[i] = ns
	}

	err := inMountNamespaceOf(initPid, func() error {
		for i, m := range mounts {
			tree, err := rootfs.IDMappedSource(m, int(usernsFds[i].Fd()))
			if err != nil {
				return fmt.Errorf("mount %q: %w", m.Destination, err)
			}
			logrus.Debugf("id-mapped %s for %s", m.Source, m.Destination)
			files = append(files, tree)
		}
		return nil
	})
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	return files, nil
}

// inMountNamespaceOf runs fn on a thread of its own that has joined the
// mount namespace of pid, with our credentials.
//
// The trees are cloned there rather than in our namespace for what the
// clone inherits: the container's namespace is a copy of ours made for a
// less privileged user namespace, whose mounts the kernel locked
// (MNT_LOCK_READONLY and the others, see mount_namespaces(7)). A clone of
// our own mount would carry no lock, and the container's root could then
// remount read-write what the host made read-only.
//
// setns(2) into a mount namespace needs a thread that shares no fs_struct
// (unshare CLONE_FS first); the thread is never given back to the Go
// runtime, which ends it when the goroutine returns.
func inMountNamespaceOf(pid int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
			if err != nil {
				return fmt.Errorf("open mount namespace of init: %w", err)
			}
			defer ns.Close()
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return os.NewSyscallError("unshare CLONE_FS", err)
			}
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
				return os.NewSyscallError("setns to init's mount namespace",
					err)
			}
			return fn()
		}()
	}()
	return <-errc
}

// idmapUserns returns a user namespace holding idm's maps: the one at
// idm.UserNSPath, the container's own when the maps are the container's,
// else a new one. Namespaces are kept in cache, keyed by their maps or
// path, for the other mounts.
func idmapUserns(cfg *configs.Config, idm *configs.MountIDMapping,
	initPid int, cache map[string]*os.File) (*os.File, error) {
	key := "path:" + idm.UserNSPath
	if idm.UserNSPath == "" {
		key = userns.Format(idm.UIDMappings) + "/" +
			userns.Format(idm.GIDMappings)
	}
	if f, ok := cache[key]; ok {
		return f, nil
	}

	var (
		ns  *os.File
		err error
	)
	ownUserns := cfg.Namespaces.Contains(configs.NEWUSER) &&
		cfg.Namespaces.PathOf(configs.NEWUSER) == ""
	switch {
	case idm.UserNSPath != "":
		ns, err = os.Open(idm.UserNSPath)
	case ownUserns && userns.Equal(idm.UIDMappings, cfg.UIDMappings) &&
		userns.Equal(idm.GIDMappings, cfg.GIDMappings):
		ns, err = os.Open("/proc/" + strconv.Itoa(initPid) + "/ns/user")
	default:
		ns, err = userns.New(idm.UIDMappings, idm.GIDMappings)
	}
	if err != nil {
		return nil, fmt.Errorf("user namespace for the id map: %w", err)
	}
	cache[key] = ns
	return ns, nil
}

// sendMountSources makes and sends the trees s asks for.
func sendMountSources(sock *os.File, s *startSpec, initPid int) error {
	if s.mountSources == nil {
		return nil
	}
	files, err := s.mountSources(initPid)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, f := range files {
		msg := syncMsg{Type: syncFd, Name: fdMount}
		if err := writeMsg(sock, msg, int(f.Fd())); err != nil {
			return fmt.Errorf("send mount source to init: %w", err)
		}
	}
	return nil
}

// receiveMountSources reads the trees the parent sent for cfg's mounts.
func receiveMountSources(sock *os.File, cfg *configs.Config) (
	rootfs.Sources, error) {
	var sources rootfs.Sources
	for i, m := range cfg.Mounts {
		if !rootfs.NeedsSource(m) {
			continue
		}
		var msg syncMsg
		f, err := readMsg(sock, &msg)
		if err == nil && (msg.Type != syncFd || msg.Name != fdMount ||
			f == nil) {
			err = errors.New("unexpected message from parent")
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			sources.Close()
			return nil, fmt.Errorf("receive the source of mount %q: %w",
				m.Destination, err)
		}
		if sources == nil {
			sources = rootfs.Sources{}
		}
		sources[i] = f
	}
	return sources, nil
}
