package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ProcsFile is the file listing a cgroup's processes, and the file to
// write a pid to in order to move it there.
const ProcsFile = "cgroup.procs"

// WriteProcs moves pid into the cgroup dir. A pid of -1 is a no-op, so a
// caller may pass a process that does not exist yet.
func WriteProcs(dir string, pid int) error {
	if pid == -1 {
		return nil
	}
	var err error
	// The kernel returns EINVAL when it races with the process changing
	// its own cgroup or exiting its parent's fork; a retry settles it.
	for i := 0; i < 5; i++ {
		err = WriteFile(dir, ProcsFile, strconv.Itoa(pid))
		if !errors.Is(err, unix.EINVAL) {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
	}
	return nil
}

// ReadProcs returns the pids in dir's cgroup.procs (not its children's).
func ReadProcs(dir string) ([]int, error) {
	s, err := ReadFile(dir, ProcsFile)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse %s in %s: %w", f, dir, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// ReadAllProcs returns the pids in dir and in every cgroup below it.
func ReadAllProcs(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			// A child cgroup removed while we walk is not an error.
			if errors.Is(err, os.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		ps, err := ReadProcs(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		pids = append(pids, ps...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", dir, unwrapPath(err))
	}
	return pids, nil
}

// RemovePath removes the cgroup dir and every cgroup below it, deepest
// first. cgroupfs refuses rmdir(2) of a cgroup that still has processes
// (EBUSY), which a just-killed process may cause for a moment, so EBUSY is
// retried for a short while. A missing dir is not an error.
func RemovePath(dir string) error {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove cgroup %s: %w", dir, unwrapPath(err))
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := RemovePath(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := 10 * time.Millisecond
	for i := 0; ; i++ {
		err = unix.Rmdir(dir)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.ENOTEMPTY) && isPlainDir(dir):
			// A fake cgroup tree in tests, or files left in a directory
			// that is not a cgroup: remove the files too.
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("remove cgroup %s: %w", dir, err)
			}
			return nil
		case errors.Is(err, unix.EBUSY) && i < 7:
			time.Sleep(delay)
			delay *= 2
			continue
		}
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
}

// isPlainDir reports whether dir is on an ordinary file system rather
// than cgroupfs.
func isPlainDir(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type != unix.CGROUP_SUPER_MAGIC &&
		st.Type != unix.CGROUP2_SUPER_MAGIC
}

// RemovePaths removes every directory in paths (a Manager's Paths()).
func RemovePaths(paths map[string]string) error {
	var errs []error
	for _, p := range paths {
		if err := RemovePath(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
