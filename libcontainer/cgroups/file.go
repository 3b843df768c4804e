package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotExist is returned (wrapped) when a cgroup file or directory that
// an operation needs is not there.
var ErrNotExist = os.ErrNotExist

// WriteFile writes data to the cgroup file dir/file. The file must exist:
// cgroupfs creates its files itself, and creating one in a plain directory
// would hide a typo or a missing controller.
func WriteFile(dir, file, data string) error {
	name := filepath.Join(dir, file)
	f, err := os.OpenFile(name, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", data, name, unwrapPath(err))
	}
	defer f.Close()

	// cgroupfs parses each write(2) on its own, so one write per value.
	if _, err := f.WriteString(data); err != nil {
		return fmt.Errorf("write %q to %s: %w", data, name, unwrapPath(err))
	}
	return nil
}

// ReadFile returns the content of the cgroup file dir/file.
func ReadFile(dir, file string) (string, error) {
	name := filepath.Join(dir, file)
	data, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, unwrapPath(err))
	}
	return string(data), nil
}

// unwrapPath drops the *PathError layer so the message names the path
// once.
func unwrapPath(err error) error {
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}

// ParseUint parses a cgroup number. "max" (v2) and values at or beyond
// the int64 range that v1 prints for "unlimited" map to math.MaxUint64.
// A negative number, which some v1 files print transiently, reads as 0.
func ParseUint(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err == nil {
		return v, nil
	}
	if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
		return 0, nil
	}
	return 0, fmt.Errorf("parse cgroup value %q: %w", s, err)
}

// ReadUint reads a file that holds one number.
func ReadUint(dir, file string) (uint64, error) {
	s, err := ReadFile(dir, file)
	if err != nil {
		return 0, err
	}
	v, err := ParseUint(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Join(dir, file), err)
	}
	return v, nil
}

// ReadKeyValues reads a flat-keyed file ("key value" lines, as
// memory.stat or cpu.stat) into a map.
func ReadKeyValues(dir, file string) (map[string]uint64, error) {
	s, err := ReadFile(dir, file)
	if err != nil {
		return nil, err
	}
	m := make(map[string]uint64)
	for _, line := range strings.Split(s, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		v, err := ParseUint(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, file), err)
		}
		m[key] = v
	}
	return m, nil
}

// FormatInt is strconv.FormatInt for base 10, for brevity at call sites.
func FormatInt(v int64) string { return strconv.FormatInt(v, 10) }

// FormatUint is strconv.FormatUint for base 10.
func FormatUint(v uint64) string { return strconv.FormatUint(v, 10) }

// IsPermission reports whether err means "not allowed here": what an
// unprivileged user gets in a cgroup tree not delegated to it.
func IsPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) ||
		errors.Is(err, unix.EROFS)
}
