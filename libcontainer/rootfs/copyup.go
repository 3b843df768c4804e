package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copyUp fills the new tmpfs mnt with a copy of the directory it covers
// ("tmpcopyup"). The target handle still refers to that directory, not to
// the mount on top of it, which is what makes the copy possible in place.
//
// Everything is opened relative to a parent fd with O_NOFOLLOW: a symlink
// in the source is copied as a symlink, never followed.
func copyUp(target, mnt *os.File) error {
	src, err := openDirAt(int(target.Fd()), ".")
	if err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	defer src.Close()
	dst, err := openDirAt(int(mnt.Fd()), ".")
	if err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	defer dst.Close()
	if err := copyDir(src, dst); err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	return nil
}

func openDirAt(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|
		unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// copyDir copies the entries of src into dst, recursively.
func copyDir(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", src.Name(), err)
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies one entry with its owner, mode and times. Sockets are
// skipped: a socket cannot be copied, only bound again.
func copyEntry(src, dst *os.File, name string) error {
	srcfd, dstfd := int(src.Fd()), int(dst.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(srcfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: name, Err: err}
	}
	perm := st.Mode & 0o7777

	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = copySubdir(src, dst, name)
	case unix.S_IFREG:
		err = copyFile(srcfd, dstfd, name)
	case unix.S_IFLNK:
		err = copySymlink(srcfd, dstfd, name)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		err = unix.Mknodat(dstfd, name, st.Mode, int(st.Rdev))
	default:
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "copy", Path: name, Err: err}
	}

	// Owner before mode: chown(2) clears the set-user-ID bit.
	err = unix.Fchownat(dstfd, name, int(st.Uid), int(st.Gid),
		unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return &os.PathError{Op: "chown", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Fchmodat(dstfd, name, perm, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: name, Err: err}
		}
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	err = unix.UtimesNanoAt(dstfd, name, times, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return &os.PathError{Op: "set times", Path: name, Err: err}
	}
	return nil
}

func copySubdir(src, dst *os.File, name string) error {
	if err := unix.Mkdirat(int(dst.Fd()), name, 0o700); err != nil {
		return err
	}
	from, err := openDirAt(int(src.Fd()), name)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := openDirAt(int(dst.Fd()), name)
	if err != nil {
		return err
	}
	defer to.Close()
	return copyDir(from, to)
}

func copyFile(srcfd, dstfd int, name string) error {
	in, err := unix.Openat(srcfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	inFile := os.NewFile(uintptr(in), name)
	defer inFile.Close()
	out, err := unix.Openat(dstfd, name, unix.O_WRONLY|unix.O_CREAT|
		unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	outFile := os.NewFile(uintptr(out), name)
	_, err = io.Copy(outFile, inFile)
	return errors.Join(err, outFile.Close())
}

func copySymlink(srcfd, dstfd int, name string) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(srcfd, name, buf)
	if err != nil {
		return err
	}
	return unix.Symlinkat(string(buf[:n]), dstfd, name)
}
