// Package rootfs builds the container's root file system inside the new
// mount namespace: the mounts of config.json in order, /dev, the switch to
// the new root, and the read-only and masked paths. The container's init
// calls MountAll, then (after the hooks) PivotRoot, then (after the
// console) Finalize, all before the container's process exists.
//
// Every mount target is untrusted: it is resolved once inside the rootfs
// with pathrs-lite, which never follows a symlink out of it, and the mount
// is made on the resulting file descriptor (move_mount(2), or mount(2) on
// its /proc/self/fd link), so that the path is never walked again. A
// rootfs whose /dev links to a host directory gets its device nodes in the
// rootfs directory the link names, never on the host.
//
// It does not create namespaces, run hooks or set up the console.
//
// BUG(towel): needs Linux 5.12 or newer: open_tree(2), move_mount(2),
// statx(2) mount ids and mount_setattr(2).
//
// Some bind mounts are the exception to "init mounts everything": only the
// host's user namespace may id-map a host file system, and a bind source
// may be out of reach of the container's root. The parent clones (and
// id-maps) such a source, IDMappedSource and CloneSource, and MountAllFrom
// attaches that tree.
//
// BUG(towel): a rootless container's parent cannot clone mounts: a bind
// source the user reaches only through a supplementary group, which init
// does not keep, cannot be mounted.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// mounter carries one MountAll run.
type mounter struct {
	cfg *configs.Config
	// root is an O_PATH handle to the root of the rootfs' own bind mount.
	root *os.File
	// rootPath is where that mount is, symlinks resolved.
	rootPath string
	// cgroupns is set when the container has a cgroup namespace.
	cgroupns bool
}

// MountAll prepares the rootfs at cfg.Rootfs. It must run in the
// container's new mount namespace, with the rights of its root.
//
// It makes the mount tree a recursive slave (or cfg.RootPropagation) so
// that nothing reaches the host, bind-mounts the rootfs on itself so that
// pivot_root(2) can use it, mounts cfg.Mounts in order, and unless /dev is
// a bind mount creates cfg.Devices and the usual /dev links.
func MountAll(cfg *configs.Config) error {
	return MountAllFrom(cfg, nil)
}

// MountAllFrom is MountAll with source, which gives the trees the mounts
// NeedsSource names, and those of bind mounts whose source init may not
// reach (runc 1.2 asks its parent alike). A mount NeedsSource names is an
// error without source.
func MountAllFrom(cfg *configs.Config, source SourceFunc) error {
	for _, m := range cfg.Mounts {
		if NeedsSource(m) && source == nil {
			return fmt.Errorf("mount %q: no id-mapped source was prepared",
				m.Destination)
		}
	}
	rootPath, err := realRootfs(cfg.Rootfs)
	if err != nil {
		return err
	}

	propagation := unix.MS_SLAVE | unix.MS_REC
	if cfg.RootPropagation != 0 {
		propagation = cfg.RootPropagation
	}
	err = unix.Mount("", "/", "", uintptr(propagation), "")
	if err != nil {
		return &os.PathError{Op: "set propagation", Path: "/", Err: err}
	}
	if err := makeParentPrivate(rootPath); err != nil {
		return err
	}
	root, err := bindOnItself(rootPath)
	if err != nil {
		return err
	}
	defer root.Close()

	mt := &mounter{
		cfg:      cfg,
		root:     root,
		rootPath: rootPath,
		cgroupns: cfg.Namespaces.Contains(configs.NEWCGROUP),
	}
	for i, m := range cfg.Mounts {
		src, err := sourceOf(i, m, source)
		if err == nil {
			err = mt.mountEntry(m, src)
		}
		if src != nil {
			src.Close()
		}
		if err != nil {
			return fmt.Errorf("mount %s (%s) on %q: %w", m.Source, m.Device,
				m.Destination, err)
		}
	}
	if needsDevSetup(cfg) {
		if err := mt.setupDev(); err != nil {
			return fmt.Errorf("set up /dev: %w", err)
		}
	}
	return nil
}

// sourceOf asks source for the tree of mount i if it is id-mapped, or a
// bind mount whose source init may not reach.
func sourceOf(i int, m *configs.Mount, source SourceFunc) (*os.File, error) {
	if source == nil || !isBind(m) {
		return nil, nil
	}
	if !NeedsSource(m) {
		var st unix.Stat_t
		err := unix.Stat(m.Source, &st)
		if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
			return nil, nil
		}
	}
	src, err := source(i)
	if err != nil {
		return nil, fmt.Errorf("mount %q: source from the runtime: %w",
			m.Destination, err)
	}
	if src == nil && NeedsSource(m) {
		return nil, fmt.Errorf("mount %q: no id-mapped source was prepared",
			m.Destination)
	}
	return src, nil
}

// realRootfs returns the rootfs path with symlinks resolved. The rootfs
// path is the caller's, not the container's, so following them is fine.
func realRootfs(rootfs string) (string, error) {
	if !filepath.IsAbs(rootfs) {
		return "", fmt.Errorf("rootfs %q is not an absolute path", rootfs)
	}
	real, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return "", fmt.Errorf("rootfs: %w", err)
	}
	return real, nil
}

// makeParentPrivate makes the mount that holds the rootfs private if it is
// shared: pivot_root(2) refuses a new root whose parent mount is shared,
// and a shared parent would also carry the rootfs bind mount to its peers.
func makeParentPrivate(rootPath string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(rootPath))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var parent *mountinfo.Info
	for _, m := range mounts {
		if parent == nil || len(m.Mountpoint) > len(parent.Mountpoint) {
			parent = m
		}
	}
	if parent == nil || !strings.Contains(parent.Optional, "shared:") {
		return nil
	}
	err = unix.Mount("", parent.Mountpoint, "", unix.MS_PRIVATE, "")
	if err != nil {
		return &os.PathError{Op: "make private", Path: parent.Mountpoint,
			Err: err}
	}
	return nil
}

// bindOnItself bind-mounts the rootfs recursively on itself, which makes
// it a mount point as pivot_root(2) needs, and returns a handle to the
// root of that mount.
func bindOnItself(rootPath string) (*os.File, error) {
	dir, err := os.OpenFile(rootPath, unix.O_PATH|unix.O_DIRECTORY|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	defer dir.Close()
	mnt, err := cloneMountAt(int(dir.Fd()), "", true)
	if err != nil {
		return nil, fmt.Errorf("bind rootfs on itself: %w", err)
	}
	if err := moveMount(mnt, dir); err != nil {
		mnt.Close()
		return nil, fmt.Errorf("bind rootfs on itself: %w", err)
	}
	return mnt, nil
}
