package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// DefaultDevices returns the device nodes every container gets in /dev,
// the same set and modes as runc 1.2: null, zero, full, random, urandom
// and tty, all 0666 and owned by root. specconv merges linux.devices over
// them; a device of the spec with the same path wins.
func DefaultDevices() []*configs.Device {
	return []*configs.Device{
		{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, FileMode: 0o666},
		{Path: "/dev/zero", Type: 'c', Major: 1, Minor: 5, FileMode: 0o666},
		{Path: "/dev/full", Type: 'c', Major: 1, Minor: 7, FileMode: 0o666},
		{Path: "/dev/random", Type: 'c', Major: 1, Minor: 8, FileMode: 0o666},
		{Path: "/dev/urandom", Type: 'c', Major: 1, Minor: 9,
			FileMode: 0o666},
		{Path: "/dev/tty", Type: 'c', Major: 5, Minor: 0, FileMode: 0o666},
	}
}

// needsDevSetup reports whether towel fills /dev: always, unless /dev is a
// bind mount, whose content is then the user's business (runc 1.2 rule).
func needsDevSetup(cfg *configs.Config) bool {
	for _, m := range cfg.Mounts {
		if isBind(m) && cleanPath(m.Destination) == "/dev" {
			return false
		}
	}
	return true
}

// setupDev creates the device nodes and the standard links in /dev.
func (mt *mounter) setupDev() error {
	// mknod(2) applies the umask; the modes in the config are final.
	oldMask := unix.Umask(0)
	defer unix.Umask(oldMask)

	bindOnly := mt.cfg.Namespaces.Contains(configs.NEWUSER) ||
		runningInUserNS()
	for _, dev := range mt.cfg.Devices {
		if err := mt.createDevice(dev, bindOnly); err != nil {
			return fmt.Errorf("create device %q: %w", dev.Path, err)
		}
	}

	devPath, err := mt.semiResolve("/dev")
	if err != nil {
		return err
	}
	devDir, err := pathrs.MkdirAllHandle(mt.root, devPath, 0o755)
	if err != nil {
		return fmt.Errorf("open /dev in rootfs: %w", err)
	}
	defer devDir.Close()
	if mt.hasDevpts() {
		if err := setupPtmx(devDir); err != nil {
			return err
		}
	}
	return setupDevSymlinks(devDir)
}

// hasDevpts reports whether the config mounts a devpts on /dev/pts.
func (mt *mounter) hasDevpts() bool {
	for _, m := range mt.cfg.Mounts {
		if m.Device == "devpts" && cleanPath(m.Destination) == "/dev/pts" {
			return true
		}
	}
	return false
}

// createDevice makes one node inside the rootfs. Where mknod(2) is not
// allowed (a user namespace), it bind-mounts the host's node onto an empty
// file instead, as runc does.
func (mt *mounter) createDevice(dev *configs.Device, bindOnly bool) error {
	if dev.Path == "" {
		return nil
	}
	inRoot, err := mt.semiResolve(dev.Path)
	if err != nil {
		return err
	}
	if inRoot == "/" {
		return errors.New("device path is the root directory")
	}
	dir, err := pathrs.MkdirAllHandle(mt.root, path.Dir(inRoot), 0o755)
	if err != nil {
		return fmt.Errorf("create parent directory: %w", err)
	}
	defer dir.Close()
	name := path.Base(inRoot)

	if bindOnly {
		return bindDevice(dir, name, dev)
	}
	err = mknodDevice(dir, name, dev)
	switch {
	case errors.Is(err, unix.EEXIST):
		// Left alone, as runc does: an image may ship its own nodes.
		return nil
	case errors.Is(err, unix.EPERM):
		return bindDevice(dir, name, dev)
	}
	return err
}

func mknodDevice(dir *os.File, name string, dev *configs.Device) error {
	var kind uint32
	switch dev.Type {
	case 'c', 'u':
		kind = unix.S_IFCHR
	case 'b':
		kind = unix.S_IFBLK
	case 'p':
		kind = unix.S_IFIFO
	default:
		return fmt.Errorf("device type %q is not supported", dev.Type)
	}
	mode := kind | dev.FileMode&0o7777
	rdev := int(unix.Mkdev(uint32(dev.Major), uint32(dev.Minor)))
	if err := unix.Mknodat(int(dir.Fd()), name, mode, rdev); err != nil {
		return &os.PathError{Op: "mknodat", Path: name, Err: err}
	}
	// AT_SYMLINK_NOFOLLOW: should the name have been swapped for a link
	// since mknodat, chown the link, never what it points to.
	err := unix.Fchownat(int(dir.Fd()), name, int(dev.UID), int(dev.GID),
		unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return &os.PathError{Op: "fchownat", Path: name, Err: err}
	}
	return nil
}

// bindDevice bind-mounts the host's node dev.Path onto an empty regular
// file name in dir.
func bindDevice(dir *os.File, name string, dev *configs.Device) error {
	// mknodat with S_IFREG makes an empty file without opening it.
	err := unix.Mknodat(int(dir.Fd()), name, unix.S_IFREG|0o644, 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "create mount target", Path: name, Err: err}
	}
	fd, err := unix.Openat(int(dir.Fd()), name,
		unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open mount target", Path: name, Err: err}
	}
	target := os.NewFile(uintptr(fd), name)
	defer target.Close()
	if err := checkNotDirOrLink(target); err != nil {
		return err
	}

	mnt, err := cloneMount(dev.Path, false)
	if err != nil {
		return err
	}
	defer mnt.Close()
	return moveMount(mnt, target)
}

// setupPtmx makes /dev/ptmx the link to pts/ptmx that a devpts mounted
// with newinstance needs (Documentation/filesystems/devpts.rst).
func setupPtmx(devDir *os.File) error {
	err := unix.Unlinkat(int(devDir.Fd()), "ptmx", 0)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: "/dev/ptmx", Err: err}
	}
	if err := unix.Symlinkat("pts/ptmx", int(devDir.Fd()), "ptmx"); err != nil {
		return &os.PathError{Op: "symlink", Path: "/dev/ptmx", Err: err}
	}
	return nil
}

// setupDevSymlinks makes the links to /proc that programs expect in /dev.
// An existing entry is left as it is.
func setupDevSymlinks(devDir *os.File) error {
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	// /proc/kcore exists only with CONFIG_PROC_KCORE; the host's /proc is
	// the same kernel's.
	if _, err := os.Lstat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		err := unix.Symlinkat(l[0], int(devDir.Fd()), l[1])
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "symlink", Path: "/dev/" + l[1],
				Err: err}
		}
	}
	return nil
}

// runningInUserNS reports whether towel itself runs in a user namespace
// that is not the initial one, where mknod(2) of real devices fails.
func runningInUserNS() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		// No uid_map: a kernel without user namespaces.
		return false
	}
	var inside, outside, size int64
	_, err = fmt.Sscan(string(data), &inside, &outside, &size)
	return err != nil || !(inside == 0 && outside == 0 && size == 4294967295)
}
