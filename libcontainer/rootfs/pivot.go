package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// PivotRoot makes the rootfs prepared by MountAll the root of the mount
// namespace and chdirs to "/". It uses pivot_root(2) and detaches the old
// root, or with cfg.NoPivotRoot moves the rootfs onto "/" with MS_MOVE and
// chroots, after hiding the host's procfs and sysfs mounts.
//
// Afterwards it applies cfg.RootPropagation to the new "/" (unless it asks
// for private, already the case), and points stdin, stdout and stderr that
// are /dev/null at the container's /dev/null.
func PivotRoot(cfg *configs.Config) error {
	rootPath, err := realRootfs(cfg.Rootfs)
	if err != nil {
		return err
	}
	if cfg.NoPivotRoot {
		err = moveRoot(rootPath)
	} else {
		err = pivotRoot(rootPath)
	}
	if err != nil {
		return err
	}

	// Done here rather than before: before the pivot "/" is the host's
	// root, and shared propagation there would reach the host.
	if p := cfg.RootPropagation; p != 0 && p&unix.MS_PRIVATE == 0 {
		if err := unix.Mount("", "/", "", uintptr(p), ""); err != nil {
			return &os.PathError{Op: "set root propagation", Path: "/",
				Err: err}
		}
	}
	if needsDevSetup(cfg) {
		if err := reopenDevNull(); err != nil {
			return err
		}
	}
	return makeCwd(cfg)
}

// makeCwd creates the process's cwd if the image lacks it, as runc does,
// before Finalize can make the root read-only. Run after the switch to the
// new root, which every path, ".." and symlinks included, stays inside.
func makeCwd(cfg *configs.Config) error {
	if cfg.Process == nil || cfg.Process.Cwd == "" {
		return nil
	}
	if err := os.MkdirAll(cfg.Process.Cwd, 0o755); err != nil {
		return fmt.Errorf("create cwd %q: %w", cfg.Process.Cwd, err)
	}
	return nil
}

// pivotRoot uses the pivot_root(".", ".") idiom (pivot_root(2), NOTES):
// the old root ends up mounted on top of the new one, where it is made a
// slave, so that its unmount does not reach the host, and detached.
func pivotRoot(rootPath string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open old root", Path: "/", Err: err}
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootPath, unix.O_DIRECTORY|unix.O_RDONLY|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open new root", Path: rootPath, Err: err}
	}
	defer unix.Close(newRoot)

	if err := unix.Fchdir(newRoot); err != nil {
		return &os.PathError{Op: "chdir", Path: rootPath, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: rootPath, Err: err}
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return &os.PathError{Op: "chdir", Path: "old root", Err: err}
	}
	err = unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, "")
	if err != nil {
		return &os.PathError{Op: "make old root rslave", Path: ".", Err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "unmount old root", Path: ".", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// moveRoot is the --no-pivot way, for a rootfs pivot_root(2) refuses (a
// ramfs root). The host's root stays in the namespace under the rootfs.
// The kernel lets a procfs or sysfs be mounted only where a full one is
// already visible in the namespace (mount_too_revealing()), and the host's
// full ones would stay visible after a chroot: they are unmounted first,
// or covered by an empty tmpfs where they cannot be.
func moveRoot(rootPath string) error {
	if err := unix.Chdir(rootPath); err != nil {
		return &os.PathError{Op: "chdir", Path: rootPath, Err: err}
	}
	hostMounts, err := mountinfo.GetMounts(func(i *mountinfo.Info) (
		skip, stop bool) {
		inRootfs := i.Mountpoint == rootPath ||
			strings.HasPrefix(i.Mountpoint, rootPath+"/")
		full := i.Root == "/" && (i.FSType == "proc" || i.FSType == "sysfs")
		return inRootfs || !full, false
	})
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	for _, m := range hostMounts {
		if err := hideMount(m.Mountpoint); err != nil {
			return err
		}
	}

	if err := unix.Mount(rootPath, "/", "", unix.MS_MOVE, ""); err != nil {
		return &os.PathError{Op: "move rootfs onto /", Path: rootPath,
			Err: err}
	}
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: rootPath, Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

func hideMount(mountpoint string) error {
	// A slave first, so that the unmount stays in this namespace.
	err := unix.Mount("", mountpoint, "", unix.MS_SLAVE|unix.MS_REC, "")
	if errors.Is(err, unix.ENOENT) {
		// Under a mount that is gone already.
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "make rslave", Path: mountpoint, Err: err}
	}
	err = unix.Unmount(mountpoint, unix.MNT_DETACH)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
		return &os.PathError{Op: "unmount", Path: mountpoint, Err: err}
	}
	// A mount locked in a user namespace: cover it instead.
	if err := unix.Mount("tmpfs", mountpoint, "tmpfs", 0, ""); err != nil {
		return &os.PathError{Op: "cover with tmpfs", Path: mountpoint,
			Err: err}
	}
	return nil
}

// reopenDevNull points those of fds 0-2 that are the null device at the
// container's /dev/null, so that no fd of the container refers to a host
// file. Without a genuine /dev/null in the container there is nothing to
// point them at, and they are left alone.
func reopenDevNull() error {
	// Checked through an O_PATH handle before it is opened for real: an
	// open(2) of some other device can have effects.
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	pathFd, err := unix.Openat2(unix.AT_FDCWD, "/dev/null", how)
	if err != nil {
		return nil
	}
	handle := os.NewFile(uintptr(pathFd), "/dev/null")
	defer handle.Close()
	var want unix.Stat_t
	if unix.Fstat(pathFd, &want) != nil || !isDevNull(&want) {
		return nil
	}
	how.Flags = unix.O_RDWR | unix.O_NOCTTY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat2(unix.AT_FDCWD, "/dev/null", how)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/dev/null", Err: err}
	}
	devNull := os.NewFile(uintptr(fd), "/dev/null")
	defer devNull.Close()
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		return &os.PathError{Op: "fstat", Path: "/dev/null", Err: err}
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		return fmt.Errorf("open /dev/null: %w", errTargetMoved)
	}

	for stdio := 0; stdio < 3; stdio++ {
		var st unix.Stat_t
		if err := unix.Fstat(stdio, &st); err != nil {
			// A closed stdio fd is the caller's choice.
			continue
		}
		if !isDevNull(&st) {
			continue
		}
		if err := unix.Dup3(fd, stdio, 0); err != nil {
			return fmt.Errorf("reopen fd %d on /dev/null: %w", stdio, err)
		}
	}
	return nil
}

func isDevNull(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR &&
		unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3
}

// checkDevNull makes sure f is the character device 1:3 and not a file the
// rootfs put at /dev/null.
func checkDevNull(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: "/dev/null", Err: err}
	}
	if !isDevNull(&st) {
		return errors.New("/dev/null in the container is not the null device")
	}
	return nil
}
