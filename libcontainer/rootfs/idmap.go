package rootfs

import (
	"errors"
	"fmt"
	"os"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// ErrIDMapUnsupported is returned, wrapped, when the kernel or the file
// system of a mount's source cannot make an id-mapped mount.
var ErrIDMapUnsupported = errors.New("id-mapped mounts are not supported")

// SourceFunc returns a tree made outside the container for cfg.Mounts[i],
// a detached mount as open_tree(2) with OPEN_TREE_CLONE returns it, which
// MountAllFrom attaches in place of opening the mount's source itself; or
// nil when none could be made. MountAllFrom closes it.
type SourceFunc func(i int) (*os.File, error)

// NeedsSource reports whether cfg.Mounts[i] must be made by the parent, in
// the host's user namespace, and given to MountAllFrom through its
// SourceFunc: the id-mapped bind mounts.
func NeedsSource(m *configs.Mount) bool {
	return m.IDMapping != nil && isBind(m)
}

// CloneSource returns a detached copy of the tree at m.Source, as a bind
// mount would attach it. The parent makes it for a bind mount whose source
// init, in the container's user namespace, may not reach.
func CloneSource(m *configs.Mount) (*os.File, error) {
	return cloneMount(m.Source, m.Flags&unix.MS_REC != 0)
}

// IDMappedSource returns a detached copy of the tree at m.Source, id-mapped
// with the maps of the user namespace usernsFd (mount_setattr(2),
// MOUNT_ATTR_IDMAP, Linux 5.12): a file owned by an id inside that
// namespace shows as owned by the id it maps to outside.
//
// It must run with CAP_SYS_ADMIN over the source's file system, which the
// container's init does not have for a host file system: the parent makes
// the copy and hands it over. Only the top mount is id-mapped unless
// m.IDMapping.Recursive ("ridmap") asks for every mount under it too.
func IDMappedSource(m *configs.Mount, usernsFd int) (*os.File, error) {
	mnt, err := CloneSource(m)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			err = fmt.Errorf("%w: %w (Linux 5.12 needed)",
				ErrIDMapUnsupported, err)
		}
		return nil, err
	}
	flags := uint(unix.AT_EMPTY_PATH)
	if m.IDMapping.Recursive {
		flags |= unix.AT_RECURSIVE
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP,
		Userns_fd: uint64(usernsFd)}
	err = unix.MountSetattr(int(mnt.Fd()), "", flags, attr)
	if err == nil {
		return mnt, nil
	}
	mnt.Close()

	switch {
	case errors.Is(err, unix.ENOSYS):
		return nil, fmt.Errorf("id-map %s: %w: the kernel has no "+
			"mount_setattr(2) (Linux 5.12 needed)", m.Source,
			ErrIDMapUnsupported)
	case errors.Is(err, unix.EINVAL):
		// The file system does not allow id-mapped mounts, or (for
		// ridmap) one of the mounts under the source does not.
		return nil, fmt.Errorf("id-map %s: %w on its file system %s "+
			"(or on a mount under it): mount_setattr: %w", m.Source,
			ErrIDMapUnsupported, fsTypeOf(m.Source), err)
	}
	return nil, &os.PathError{Op: "id-map mount (mount_setattr)",
		Path: m.Source, Err: err}
}

// fsTypeOf names the file system path is on, for error messages.
func fsTypeOf(path string) string {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(path))
	if err != nil || len(mounts) == 0 {
		return "(unknown)"
	}
	best := mounts[0]
	for _, m := range mounts {
		if len(m.Mountpoint) > len(best.Mountpoint) {
			best = m
		}
	}
	return best.FSType
}
