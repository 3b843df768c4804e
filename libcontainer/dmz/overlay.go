package dmz

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// errReplaced means the binary's path holds another file than the one
// running, e.g. after an upgrade.
var errReplaced = errors.New("the binary on disk is not the one running")

// openThroughOverlay returns an O_PATH handle to self (the running
// binary) as seen through a new overlayfs mount whose only layers are the
// binary's directory and an empty tmpfs. Without an upper layer the
// overlay is read-only: opening the file for writing fails with EROFS.
//
// The mount is made with the new mount API (fsopen(2), fsmount(2)) and
// never attached to any mount namespace, so nobody can reach it by a path;
// it lives as long as the returned handle, the returned mount fds and
// what was exec'd from it. overlayfs refuses a single lower layer without
// an upper one, and the same directory twice, hence the empty tmpfs as
// second layer. The mount fds are the overlay's and the tmpfs's, for the
// caller to close (see Exe.ReleaseMounts).
func openThroughOverlay(self *os.File) (*os.File, []int, error) {
	exePath, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, nil, fmt.Errorf("read /proc/self/exe: %w", err)
	}
	if strings.HasSuffix(exePath, " (deleted)") {
		return nil, nil, fmt.Errorf("%s: %w", exePath, errReplaced)
	}
	dirPath, name := filepath.Split(exePath)

	dir, err := os.OpenFile(dirPath, unix.O_PATH|unix.O_DIRECTORY|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open directory of the binary: %w", err)
	}
	defer dir.Close()
	empty, err := emptyTmpfs()
	if err != nil {
		return nil, nil, err
	}
	mnt, err := readonlyOverlay(int(dir.Fd()), empty)
	if err != nil {
		unix.Close(empty)
		return nil, nil, err
	}
	mounts := []int{mnt, empty}
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|
		unix.O_CLOEXEC, 0)
	if err != nil {
		closeAll(mounts)
		return nil, nil, &os.PathError{Op: "open in overlay", Path: name,
			Err: err}
	}
	f := os.NewFile(uintptr(fd), "overlay:"+exePath)
	same, err := sameFile(f, self)
	if err == nil && !same {
		err = fmt.Errorf("%s: %w", exePath, errReplaced)
	}
	if err != nil {
		f.Close()
		closeAll(mounts)
		return nil, nil, err
	}
	return f, mounts, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// emptyTmpfs returns the root of a detached, empty, read-only tmpfs.
func emptyTmpfs() (int, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("fsopen tmpfs", err)
	}
	defer unix.Close(fsfd)
	// Best effort: the smallest superblock there is.
	_ = unix.FsconfigSetString(fsfd, "size", "4k")
	_ = unix.FsconfigSetString(fsfd, "nr_inodes", "1")
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, os.NewSyscallError("fsconfig create tmpfs", err)
	}
	fd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC,
		unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC|
			unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, os.NewSyscallError("fsmount tmpfs", err)
	}
	return fd, nil
}

// readonlyOverlay makes a detached overlayfs with lower layers dirfd (on
// top) and emptyfd, and returns its mount fd.
func readonlyOverlay(dirfd, emptyfd int) (int, error) {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("fsopen overlay", err)
	}
	defer unix.Close(fsfd)

	// "lowerdir+" takes one layer at a time, and an fd (Linux 6.8); an
	// older kernel gets the layers as one string, the fds by their
	// magic links, which overlayfs resolves when the option is set.
	err = unix.FsconfigSetFd(fsfd, "lowerdir+", dirfd)
	if err == nil {
		err = unix.FsconfigSetFd(fsfd, "lowerdir+", emptyfd)
	} else {
		err = unix.FsconfigSetString(fsfd, "lowerdir",
			"/proc/self/fd/"+strconv.Itoa(dirfd)+
				":/proc/self/fd/"+strconv.Itoa(emptyfd))
	}
	if err != nil {
		return -1, os.NewSyscallError("fsconfig overlay lowerdir", err)
	}
	// The layers are on different file systems; with xino the kernel
	// logs a line for every mount.
	_ = unix.FsconfigSetString(fsfd, "xino", "off")
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, os.NewSyscallError("fsconfig create overlay", err)
	}
	fd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC,
		unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, os.NewSyscallError("fsmount overlay", err)
	}
	return fd, nil
}
