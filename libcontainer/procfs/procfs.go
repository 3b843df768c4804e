// Package procfs opens files on a procfs that has been checked to be the
// real thing, for the writes a runtime makes there: sysctls, uid and gid
// maps, oom_score_adj, LSM attributes.
//
// A path under /proc is not to be trusted as it stands. Inside a container
// /proc is mounted from the container's configuration, a hook or the
// container's own processes may have mounted something over part of it,
// and the image may have put a file, a link or a tmpfs where a procfs file
// is expected. A write through such a path lands wherever the container
// chose, on the host if a bind mount leads there (CVE-2019-16884,
// CVE-2019-19921, CVE-2025-52881). So a Handle starts from a directory
// that fstatfs(2) says is a procfs and fstat(2) says is the root of one
// (inode 1), and every file below it is opened with openat2(2) and
// RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS: the lookup
// fails with EXDEV as soon as it meets a mount point, and with ELOOP on
// the /proc/PID/fd style links that could lead anywhere. The opened file
// is checked to be on procfs once more.
//
// The package does not mount a procfs of its own: a file that cannot be
// reached this way is an error, not something to work around.
//
// BUG(towel): needs openat2(2), Linux 5.6.
package procfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procRootIno is the inode number of the root of every procfs mount
// (PROC_ROOT_INO in fs/proc/root.c).
const procRootIno = 1

// ErrNotProcfs means a path that should be on procfs is not: a file
// system, a mount point or a magic link stands in the way.
var ErrNotProcfs = errors.New("not on a real procfs")

// Handle is an O_PATH handle to the root of a procfs mount.
type Handle struct {
	root *os.File
}

// Open returns a Handle for the procfs mounted at path, usually "/proc".
// path itself must not be a symlink, and must be the root of a procfs.
func Open(path string) (*Handle, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open procfs", Path: path, Err: err}
	}
	root := os.NewFile(uintptr(fd), path)
	if err := checkProcRoot(root); err != nil {
		root.Close()
		return nil, err
	}
	return &Handle{root: root}, nil
}

// Close releases the handle.
func (h *Handle) Close() error { return h.root.Close() }

func checkProcRoot(f *os.File) error {
	if err := checkOnProcfs(f); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	if st.Ino != procRootIno {
		return fmt.Errorf("%s is not the root of a procfs mount: %w",
			f.Name(), ErrNotProcfs)
	}
	return nil
}

func checkOnProcfs(f *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstatfs", Path: f.Name(), Err: err}
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s: file system type %#x: %w", f.Name(), st.Type,
			ErrNotProcfs)
	}
	return nil
}

// OpenFile opens subpath, relative to the procfs root ("sys/net/...",
// "self/attr/exec", "1234/uid_map"), with flags (O_CLOEXEC is added).
// Symlinks that stay inside the procfs, such as "self" and "thread-self",
// are followed; a mount point or a magic link on the way is an error
// wrapping ErrNotProcfs.
func (h *Handle) OpenFile(subpath string, flags int) (*os.File, error) {
	name := path.Join(h.root.Name(), subpath)
	how := &unix.OpenHow{
		Flags: uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV |
			unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(int(h.root.Fd()), subpath, how)
	if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("open %s: a mount point or a magic link "+
			"is in the way (%v): %w", name, err, ErrNotProcfs)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	if err := checkOnProcfs(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// WriteFile writes data to subpath with a single write(2), as procfs
// files want one value a write.
func (h *Handle) WriteFile(subpath string, data []byte) error {
	f, err := h.OpenFile(subpath, unix.O_WRONLY)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WritePid writes data to file of process pid ("oom_score_adj",
// "uid_map", ...).
func (h *Handle) WritePid(pid int, file string, data []byte) error {
	return h.WriteFile(strconv.Itoa(pid)+"/"+file, data)
}

// SysctlPath turns a sysctl key into its path under /proc/sys, as
// sysctl(8) does: "net.ipv4.ip_forward" is net/ipv4/ip_forward, and in
// the dotted form a "/" stands for a dot inside one name, so
// "net.ipv4.conf.eth0/100.rp_filter" is net/ipv4/conf/eth0.100/rp_filter.
// A key already in the slashed form ("net/ipv4/ip_forward") is kept. A
// key with an empty, "." or ".." name is refused.
func SysctlPath(key string) (string, error) {
	rel := key
	if i := strings.IndexAny(key, "./"); i >= 0 && key[i] == '.' {
		rel = strings.Map(func(r rune) rune {
			switch r {
			case '.':
				return '/'
			case '/':
				return '.'
			}
			return r
		}, key)
	}
	for _, name := range strings.Split(rel, "/") {
		if name == "" || name == "." || name == ".." {
			return "", fmt.Errorf("sysctl %q: not a sysctl name", key)
		}
	}
	return "sys/" + rel, nil
}

// WriteSysctl writes value to the sysctl key.
func (h *Handle) WriteSysctl(key, value string) error {
	rel, err := SysctlPath(key)
	if err != nil {
		return err
	}
	if err := h.WriteFile(rel, []byte(value)); err != nil {
		return fmt.Errorf("sysctl %q=%q: %w", key, value, err)
	}
	return nil
}
