package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// cleanPath makes p absolute and lexically clean: "dev/../dev/" is "/dev".
func cleanPath(p string) string {
	return path.Clean("/" + p)
}

// openTarget returns an O_PATH handle to unsafePath inside the rootfs,
// creating it when missing: a directory, or an empty regular file when
// file is set. existed reports whether it was there already.
//
// Every component is resolved with pathrs-lite inside the root: a symlink
// in the rootfs, absolute or full of "..", can never lead out of it.
func (mt *mounter) openTarget(unsafePath string, file bool) (
	target *os.File, existed bool, err error) {
	inRoot, err := mt.semiResolve(unsafePath)
	if err != nil {
		return nil, false, err
	}

	target, err = pathrs.OpenatInRoot(mt.root, inRoot)
	if err == nil {
		return target, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("open mount target: %w", err)
	}

	if !file {
		target, err = pathrs.MkdirAllHandle(mt.root, inRoot, 0o755)
		if err != nil {
			return nil, false, fmt.Errorf("create mount target: %w", err)
		}
		return target, false, nil
	}
	dir, err := pathrs.MkdirAllHandle(mt.root, path.Dir(inRoot), 0o755)
	if err != nil {
		return nil, false, fmt.Errorf("create mount target parent: %w", err)
	}
	defer dir.Close()
	name := path.Base(inRoot)
	err = unix.Mknodat(int(dir.Fd()), name, unix.S_IFREG|0o644, 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, false, &os.PathError{Op: "create mount target",
			Path: inRoot, Err: err}
	}
	fd, err := unix.Openat(int(dir.Fd()), name,
		unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, &os.PathError{Op: "open mount target",
			Path: inRoot, Err: err}
	}
	return os.NewFile(uintptr(fd), inRoot), false, nil
}

// semiResolve rewrites unsafePath so that a dangling symlink in it names
// the place to create: an image's /etc/resolv.conf pointing to a missing
// ../run/resolv.conf gets /run/resolv.conf created, as with runc 1.2.
// The result is only a better name to start from; openTarget still
// resolves it safely.
func (mt *mounter) semiResolve(unsafePath string) (string, error) {
	joined, err := securejoin.SecureJoin(mt.rootPath, unsafePath)
	if err != nil {
		return "", fmt.Errorf("resolve %q in rootfs: %w", unsafePath, err)
	}
	rel, err := filepath.Rel(mt.rootPath, joined)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("resolve %q in rootfs: result %q is outside",
			unsafePath, joined)
	}
	return cleanPath(rel), nil
}

// procMountFiles are the only places under /proc where a mount may go:
// files that lxcfs emulates (the same list as runc 1.2).
var procMountFiles = []string{
	"proc/cpuinfo",
	"proc/diskstats",
	"proc/meminfo",
	"proc/stat",
	"proc/swaps",
	"proc/uptime",
	"proc/loadavg",
	"proc/slabinfo",
	"proc/net/dev",
	"proc/sys/kernel/ns_last_pid",
	"proc/sys/crypto/fips_enabled",
}

// checkProcTarget refuses mounts that would cover /proc or part of it with
// something else than a procfs: the kernel trusts what it finds under
// /proc (CVE-2019-16884, CVE-2019-19921). realPath is the target's fdPath.
func (mt *mounter) checkProcTarget(realPath string, m *configs.Mount) error {
	rel, err := filepath.Rel(mt.rootPath, realPath)
	if err != nil {
		return fmt.Errorf("mount target %q: %w", realPath, err)
	}
	if rel != "proc" && !strings.HasPrefix(rel, "proc/") {
		return nil
	}

	if rel == "proc" {
		if m.Device == "proc" {
			return nil
		}
		if isBind(m) {
			var st unix.Statfs_t
			if err := unix.Statfs(m.Source, &st); err != nil {
				return &os.PathError{Op: "statfs", Path: m.Source,
					Err: err}
			}
			if st.Type == unix.PROC_SUPER_MAGIC {
				return nil
			}
		}
		return fmt.Errorf("%q is not a procfs, it cannot be mounted on /proc",
			m.Source)
	}

	for _, allowed := range procMountFiles {
		if rel == allowed {
			return nil
		}
	}
	return fmt.Errorf("mount destination %q is inside /proc", m.Destination)
}

// checkPlainDir refuses an existing final component of unsafePath that is
// not a directory, a symlink included: procfs and sysfs are mounted only
// on ordinary directories, as runc 1.2 requires.
func (mt *mounter) checkPlainDir(unsafePath string) error {
	clean := cleanPath(unsafePath)
	if clean == "/" {
		return nil
	}
	dir, err := pathrs.OpenatInRoot(mt.root, path.Dir(clean))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open parent of %q: %w", clean, err)
	}
	defer dir.Close()
	var st unix.Stat_t
	err = unix.Fstatat(int(dir.Fd()), path.Base(clean), &st,
		unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "lstat", Path: clean, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%q is not a directory", clean)
	}
	return nil
}

// openInRoot opens unsafePath inside root as an O_PATH handle.
func openInRoot(root *os.File, unsafePath string) (*os.File, error) {
	f, err := pathrs.OpenatInRoot(root, unsafePath)
	if err != nil {
		return nil, fmt.Errorf("open %q in rootfs: %w", unsafePath, err)
	}
	return f, nil
}
