package rootfs

import (
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// Finalize is the last step of the rootfs, run after PivotRoot and the
// console: it makes read-only the tmpfs mounts and /dev that asked for it
// (they were left writable for the device nodes and the console), then the
// root itself with cfg.Readonlyfs, then cfg.ReadonlyPaths, then masks
// cfg.MaskedPaths. Paths are resolved inside the new root; a listed path
// that does not exist is skipped.
//
// Sysctls must be written before: /proc/sys is usually read-only after.
func Finalize(cfg *configs.Config) error {
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()

	for _, m := range cfg.Mounts {
		if m.Flags&unix.MS_RDONLY == 0 || isBind(m) {
			continue
		}
		if m.Device == "tmpfs" || cleanPath(m.Destination) == "/dev" {
			if err := remountReadonly(root, m.Destination); err != nil {
				return err
			}
		}
	}
	if cfg.Readonlyfs {
		if err := setRootReadonly(); err != nil {
			return err
		}
	}
	for _, p := range cfg.ReadonlyPaths {
		if err := readonlyPath(root, p); err != nil {
			return fmt.Errorf("make %q read-only: %w", p, err)
		}
	}
	for _, p := range cfg.MaskedPaths {
		if err := maskPath(root, p, cfg.MountLabel); err != nil {
			return fmt.Errorf("mask %q: %w", p, err)
		}
	}
	return nil
}

// remountReadonly sets MOUNT_ATTR_RDONLY on the mount at unsafePath and
// leaves its other flags alone, locked ones included.
func remountReadonly(root *os.File, unsafePath string) error {
	mnt, err := openInRoot(root, unsafePath)
	if err != nil {
		return err
	}
	defer mnt.Close()
	_, isRoot, err := mountIDOf(mnt)
	if err != nil {
		return err
	}
	if !isRoot {
		// Setting the flag would hit the mount around it, maybe "/".
		return fmt.Errorf("make %q read-only: %w", unsafePath, errTargetMoved)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err = unix.MountSetattr(int(mnt.Fd()), "", unix.AT_EMPTY_PATH, attr)
	if err != nil {
		return &os.PathError{Op: "make read-only", Path: unsafePath, Err: err}
	}
	return nil
}

// setRootReadonly remounts "/" read-only. In a user namespace the first
// try fails if "/" has locked flags that the remount would clear; the
// retry keeps the current flags.
func setRootReadonly() error {
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	firstErr := unix.Mount("", "/", "", flags, "")
	if firstErr == nil {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return &os.PathError{Op: "statfs", Path: "/", Err: err}
	}
	flags |= uintptr(statfsToMountFlags(st.Flags))
	if err := unix.Mount("", "/", "", flags, ""); err != nil {
		return &os.PathError{Op: "remount read-only", Path: "/",
			Err: errors.Join(firstErr, err)}
	}
	return nil
}

// readonlyPath bind-mounts unsafePath on itself, read-only down to every
// mount under it. The copy is made read-only while detached, so that it
// never shows writable in the container.
func readonlyPath(root *os.File, unsafePath string) error {
	target, err := openInRoot(root, unsafePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer target.Close()

	mnt, err := cloneMountAt(int(target.Fd()), "", true)
	if err != nil {
		return err
	}
	defer mnt.Close()
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := setRecAttr(mnt, attr); err != nil {
		return err
	}
	return moveMount(mnt, target)
}

// maskPath hides unsafePath: a directory under an empty read-only tmpfs,
// anything else under the container's /dev/null, once that is checked to
// be the real null device.
func maskPath(root *os.File, unsafePath, mountLabel string) error {
	target, err := openInRoot(root, unsafePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer target.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(target.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: unsafePath, Err: err}
	}

	var mnt *os.File
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		mnt, err = emptyReadonlyTmpfs(mountLabel)
	} else {
		mnt, err = cloneDevNull(root)
	}
	if err != nil {
		return err
	}
	defer mnt.Close()
	return moveMount(mnt, target)
}

// emptyReadonlyTmpfs makes a detached, empty, read-only tmpfs with the new
// mount API (fsopen(2), Linux 5.2), which needs no path and no /proc.
func emptyReadonlyTmpfs(mountLabel string) (*os.File, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("fsopen tmpfs", err)
	}
	defer unix.Close(fsfd)
	if mountLabel != "" && selinux.GetEnabled() {
		err := unix.FsconfigSetString(fsfd, "context", mountLabel)
		if err != nil {
			return nil, os.NewSyscallError("fsconfig context", err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, os.NewSyscallError("fsconfig create tmpfs", err)
	}
	fd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC,
		unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return nil, os.NewSyscallError("fsmount tmpfs", err)
	}
	return os.NewFile(uintptr(fd), "mount:tmpfs"), nil
}

// cloneDevNull returns a detached bind mount of the container's
// /dev/null, refusing anything but the character device 1:3: a rootfs
// could have put a file or a link there to be mounted over masked paths.
func cloneDevNull(root *os.File) (*os.File, error) {
	devNull, err := openInRoot(root, "/dev/null")
	if err != nil {
		return nil, err
	}
	defer devNull.Close()
	if err := checkDevNull(devNull); err != nil {
		return nil, err
	}
	return cloneMountAt(int(devNull.Fd()), "", false)
}
