package rootfs

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// MountConsole bind-mounts the pty slave onto /dev/console of the current
// root (call it after PivotRoot). Whatever the image put at /dev/console
// (a symlink to a host path, a fifo, a file) is removed first, and the
// target is created with O_EXCL|O_NOFOLLOW and mounted on through its fd,
// so the mount cannot be redirected.
func MountConsole(slave *os.File) error {
	dev, err := os.OpenFile("/dev", unix.O_PATH|unix.O_DIRECTORY|
		unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dev.Close()
	dirfd := int(dev.Fd())

	// A directory there is left for the mount to fail on.
	err = unix.Unlinkat(dirfd, "console", 0)
	if err != nil && err != unix.ENOENT && err != unix.EISDIR {
		return fmt.Errorf("remove /dev/console: %w", err)
	}
	fd, err := unix.Openat(dirfd, "console", unix.O_CREAT|unix.O_EXCL|
		unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	defer unix.Close(fd)

	src := "/proc/self/fd/" + strconv.Itoa(int(slave.Fd()))
	dst := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount pty on /dev/console: %w", err)
	}
	return nil
}
