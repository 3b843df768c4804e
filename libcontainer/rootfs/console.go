package rootfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MountConsole bind-mounts the pty slave on /dev/console of the container
// whose root directory is root (an O_PATH handle; after PivotRoot, "/").
//
// The rootfs is untrusted: its /dev/console may be a symlink to a host
// path, a fifo whose open(2) blocks, a regular file or a directory. So
// /dev is resolved inside root only (openat2(2) RESOLVE_IN_ROOT), the
// entry is opened with O_PATH|O_NOFOLLOW, which neither follows a link
// nor opens a fifo or device for I/O, and the mount is made on that handle
// (open_tree(2) of the slave, move_mount(2) onto the handle), so no path
// is walked twice. A symlink is replaced by an empty file to mount on; a
// missing entry is created; a directory is an error.
func MountConsole(root, slave *os.File) error {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	devFd, err := unix.Openat2(int(root.Fd()), "dev", how)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/dev", Err: err}
	}
	dev := os.NewFile(uintptr(devFd), "/dev")
	defer dev.Close()

	target, err := consoleTarget(dev)
	if err != nil {
		return err
	}
	defer target.Close()

	tree, err := cloneMountAt(int(slave.Fd()), "", false)
	if err != nil {
		return fmt.Errorf("bind mount pty on /dev/console: %w", err)
	}
	defer tree.Close()
	if err := moveMount(tree, target); err != nil {
		return fmt.Errorf("bind mount pty on /dev/console: %w", err)
	}
	return nil
}

// consoleTarget returns an O_PATH handle on dev/console that is safe to
// mount on, creating or replacing the entry where needed.
func consoleTarget(dev *os.File) (*os.File, error) {
	dirfd := int(dev.Fd())
	fd, err := unix.Openat(dirfd, "console",
		unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "fstat", Path: "/dev/console",
				Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			unix.Close(fd)
			return nil, &os.PathError{Op: "mount pty on",
				Path: "/dev/console", Err: unix.EISDIR}
		case unix.S_IFLNK:
			// Mounting on a symlink is refused by the kernel (or follows
			// it): the link goes, an empty file takes its place.
			unix.Close(fd)
			err := unix.Unlinkat(dirfd, "console", 0)
			if err != nil && err != unix.ENOENT {
				return nil, &os.PathError{Op: "remove",
					Path: "/dev/console", Err: err}
			}
		default:
			// A file, fifo, socket or device node is mounted over as
			// it is; the O_PATH handle never opened it.
			return os.NewFile(uintptr(fd), "/dev/console"), nil
		}
	} else if err != unix.ENOENT {
		return nil, &os.PathError{Op: "open", Path: "/dev/console", Err: err}
	}

	fd, err = unix.Openat(dirfd, "console", unix.O_CREAT|unix.O_EXCL|
		unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: "/dev/console", Err: err}
	}
	return os.NewFile(uintptr(fd), "/dev/console"), nil
}
