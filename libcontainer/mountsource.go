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
// Some mounts cannot be made by init alone. An id-mapped mount needs
// CAP_SYS_ADMIN over the source's file system, which only the host's user
// namespace has, while init runs in the container's; and the source of a
// bind mount may be out of reach of the container's root. When init comes
// to such a mount (rootfs.MountAllFrom decides), it sends syncMount with
// the mount's index; the parent clones the source (and id-maps it) in
// init's mount namespace, see inMountNamespaceOf, and answers syncFd named
// fdMount with the tree, or with no fd when it cannot help a plain bind
// mount. Asking when the mount is made, not before, lets a source see the
// mounts made before it, as a path would. The fd arrives close-on-exec.

// fdMount names a mount tree sent with syncFd.
const fdMount = "mount"

// mountSourceMaker makes the mount sources of one container's init. It
// keeps the user namespaces it opened for the maps of later mounts.
type mountSourceMaker struct {
	cfg *configs.Config
	// usernsFds are keyed by maps or path, see idmapUserns.
	usernsFds map[string]*os.File
}

func newMountSourceMaker(cfg *configs.Config) *mountSourceMaker {
	return &mountSourceMaker{cfg: cfg, usernsFds: map[string]*os.File{}}
}

// Close releases the user namespaces.
func (mk *mountSourceMaker) Close() {
	for _, f := range mk.usernsFds {
		f.Close()
	}
}

// make returns the tree of mount index for the init initPid. For a plain
// bind mount it returns nil, and no error, when it cannot make one: init
// then tries the path and reports what it finds there.
func (mk *mountSourceMaker) make(initPid, index int) (*os.File, error) {
	if index < 0 || index >= len(mk.cfg.Mounts) {
		return nil, fmt.Errorf("init asked for the source of mount %d of %d",
			index, len(mk.cfg.Mounts))
	}
	m := mk.cfg.Mounts[index]
	if !m.IsBind() {
		return nil, fmt.Errorf("init asked for the source of mount %q, "+
			"which is not a bind mount", m.Destination)
	}

	if !rootfs.NeedsSource(m) {
		var tree *os.File
		err := inMountNamespaceOf(initPid, func() error {
			var err error
			tree, err = rootfs.CloneSource(m)
			return err
		})
		if err != nil {
			// An unprivileged runtime cannot clone mounts.
			logrus.Debugf("clone source of %s: %v", m.Destination, err)
			return nil, nil
		}
		logrus.Debugf("cloned %s for %s", m.Source, m.Destination)
		return tree, nil
	}

	ns, err := mk.idmapUserns(m.IDMapping, initPid)
	if err != nil {
		return nil, fmt.Errorf("mount %q: %w", m.Destination, err)
	}
	var tree *os.File
	err = inMountNamespaceOf(initPid, func() error {
		var err error
		tree, err = rootfs.IDMappedSource(m, int(ns.Fd()))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mount %q: %w", m.Destination, err)
	}
	logrus.Debugf("id-mapped %s for %s", m.Source, m.Destination)
	return tree, nil
}

// inMountNamespaceOf runs fn on a thread of its own that has joined the
// mount namespace of pid, with our credentials.
//
// Trees are cloned there rather than in our namespace for what the clone
// inherits: the container's namespace is a copy of ours made for a less
// privileged user namespace, whose mounts the kernel locked
// (MNT_LOCK_READONLY and the others, see mount_namespaces(7)). A clone of
// our own mount would carry no lock, and the container's root could then
// remount read-write what the host made read-only. It also sees the
// mounts init made so far.
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
// else a new one.
func (mk *mountSourceMaker) idmapUserns(idm *configs.MountIDMapping,
	initPid int) (*os.File, error) {
	key := "path:" + idm.UserNSPath
	if idm.UserNSPath == "" {
		key = userns.Format(idm.UIDMappings) + "/" +
			userns.Format(idm.GIDMappings)
	}
	if f, ok := mk.usernsFds[key]; ok {
		return f, nil
	}

	var (
		cfg = mk.cfg
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
	mk.usernsFds[key] = ns
	return ns, nil
}

// sendMountSource answers init's syncMount for mount index.
func sendMountSource(sock *os.File, s *startSpec, initPid, index int) error {
	if s.mountSource == nil {
		return fmt.Errorf("init asked for the source of mount %d", index)
	}
	tree, err := s.mountSource(initPid, index)
	if err != nil {
		return err
	}
	fd := -1
	if tree != nil {
		defer tree.Close()
		fd = int(tree.Fd())
	}
	err = writeMsg(sock, syncMsg{Type: syncFd, Name: fdMount}, fd)
	if err != nil {
		return fmt.Errorf("send mount source to init: %w", err)
	}
	return nil
}

// requestMountSource asks the parent for the tree of mount index; see
// rootfs.SourceFunc.
func (i *initState) requestMountSource(index int) (*os.File, error) {
	err := writeMsg(i.sock, syncMsg{Type: syncMount, Index: index}, -1)
	if err != nil {
		return nil, err
	}
	var msg syncMsg
	f, err := readMsg(i.sock, &msg)
	if err == nil && (msg.Type != syncFd || msg.Name != fdMount) {
		err = errors.New("unexpected message from parent")
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("wait for a mount source: %w", err)
	}
	return f, nil
}
