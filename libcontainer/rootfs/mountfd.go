package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// This file holds the fd-based mount primitives. A mount target is always
// an O_PATH handle that was resolved inside the rootfs once; the kernel is
// handed that handle (move_mount(2), or mount(2) on its /proc/self/fd
// magic link), so a path the container can influence is never walked a
// second time.

// procFdPath names f's magic link in the host's /proc. Only valid before
// pivot_root: afterwards /proc is whatever the container mounted there.
func procFdPath(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// cloneMount returns a detached copy of the mount tree at source, a host
// path, as open_tree(2) with OPEN_TREE_CLONE makes it: what mount(2) with
// MS_BIND (and MS_REC when recursive) would attach, but not attached yet.
// Closing the handle before moveMount unmounts the copy.
func cloneMount(source string, recursive bool) (*os.File, error) {
	return cloneMountAt(unix.AT_FDCWD, source, recursive)
}

func cloneMountAt(dirfd int, name string, recursive bool) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(dirfd, name, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), "mount:"+name), nil
}

// dupFile returns a new handle on what f refers to.
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("dup "+f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// moveMount attaches the mount mnt (from cloneMount or fsmount) on
// target. mnt then refers to the root of the attached mount.
func moveMount(mnt, target *os.File) error {
	err := unix.MoveMount(int(mnt.Fd()), "", int(target.Fd()), "",
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if err != nil {
		return &os.PathError{Op: "move_mount", Path: target.Name(), Err: err}
	}
	return nil
}

// fdPath returns the path the kernel has for f, read safely from procfs.
func fdPath(f *os.File) (string, error) {
	p, err := procfs.ProcSelfFdReadlink(f)
	if err != nil {
		return "", fmt.Errorf("read path of %s: %w", f.Name(), err)
	}
	return p, nil
}

// mountOnto mounts a new file system on target (whose fdPath is
// targetPath) with mount(2), through target's magic link, and returns an
// O_PATH handle to the root of the new mount.
//
// The target fd keeps referring to the directory under the new mount, so
// the new mount is found from target's parent by name, and checked to be a
// mount root other than target's own mount.
func mountOnto(source string, target *os.File, targetPath, fstype string,
	flags uintptr, data string) (*os.File, error) {
	parentFd, err := unix.Openat(int(target.Fd()), "..",
		unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open parent", Path: targetPath, Err: err}
	}
	defer unix.Close(parentFd)
	underID, _, err := mountIDOf(target)
	if err != nil {
		return nil, err
	}

	err = unix.Mount(source, procFdPath(target), fstype, flags, data)
	if err != nil {
		return nil, &os.PathError{Op: "mount " + fstype, Path: targetPath,
			Err: err}
	}

	fd, err := unix.Openat(parentFd, path.Base(targetPath),
		unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open new mount", Path: targetPath,
			Err: err}
	}
	mnt := os.NewFile(uintptr(fd), targetPath)
	id, isRoot, err := mountIDOf(mnt)
	if err == nil && (!isRoot || id == underID) {
		err = fmt.Errorf("open new mount on %q: %w", targetPath,
			errTargetMoved)
	}
	if err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}

// errTargetMoved means a mount target was renamed or replaced while towel
// worked on it.
var errTargetMoved = errors.New("mount target was moved during setup")

// mountIDOf returns the id of the mount f is on and whether f is the root
// of that mount (statx(2) STATX_MNT_ID and STATX_ATTR_MOUNT_ROOT, Linux
// 5.8).
func mountIDOf(f *os.File) (id uint64, isRoot bool, err error) {
	var stx unix.Statx_t
	err = unix.Statx(int(f.Fd()), "",
		unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
	if err != nil {
		return 0, false, &os.PathError{Op: "statx", Path: f.Name(), Err: err}
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 ||
		stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return 0, false, fmt.Errorf("statx %s: kernel reports no mount id",
			f.Name())
	}
	return stx.Mnt_id, stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}

// setPropagation applies each propagation flag (MS_SHARED, MS_SLAVE, ...,
// maybe with MS_REC) to the mount whose root is mnt, in order.
func setPropagation(mnt *os.File, flags []int) error {
	for _, flag := range flags {
		err := unix.Mount("", procFdPath(mnt), "", uintptr(flag), "")
		if err != nil {
			return &os.PathError{
				Op:   fmt.Sprintf("set propagation %#x", flag),
				Path: mnt.Name(), Err: err,
			}
		}
	}
	return nil
}

// setRecAttr applies attr to the mount whose root is mnt and to every
// mount under it (mount_setattr(2) with AT_RECURSIVE, Linux 5.12).
func setRecAttr(mnt *os.File, attr *unix.MountAttr) error {
	if attr == nil {
		return nil
	}
	err := unix.MountSetattr(int(mnt.Fd()), "",
		unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr)
	if err != nil {
		return &os.PathError{Op: "mount_setattr", Path: mnt.Name(), Err: err}
	}
	return nil
}

// checkNotDirOrLink refuses a target that is a directory or a symlink
// where a file is to be bind-mounted.
func checkNotDirOrLink(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return &os.PathError{Op: "mount", Path: f.Name(), Err: unix.EISDIR}
	case unix.S_IFLNK:
		return &os.PathError{Op: "mount", Path: f.Name(), Err: unix.ELOOP}
	}
	return nil
}
