package criu

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/checkpoint-restore/go-criu/v6/rpc"
	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

// A mount whose source lies outside the container's own mount tree (a
// bind mount of a host path, a cgroup v1 directory) is "external" to
// criu: on dump it must be named, because criu cannot save it, and on
// restore the name must be mapped to what to mount there. The name is the
// mountpoint inside the container, so a dump entry maps the mountpoint to
// itself and a restore entry maps it to the host source.

// devNullKey is the external name of every masked file: runc masks a file
// with a bind mount of /dev/null and declares it so.
const devNullKey = "/dev/null"

// mountpoint is where dest lands inside the rootfs, as the container
// sees it (the kernel's and criu's name for the mount): symlinks in the
// rootfs are followed, without ever leaving it.
func mountpoint(rootfs, dest string) string {
	joined, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return path.Clean("/" + dest)
	}
	rel, err := filepath.Rel(rootfs, joined)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path.Clean("/" + dest)
	}
	return path.Clean("/" + rel)
}

func extMount(key, val string) *rpc.ExtMountMap {
	return &rpc.ExtMountMap{Key: &key, Val: &val}
}

// hasV1CgroupBinds reports whether the container's cgroup mount (if any)
// is a set of bind mounts of host cgroup v1 directories, which it is on a
// v1 host without a cgroup namespace (see package rootfs).
func hasV1CgroupBinds(cfg *configs.Config) (dest string, ok bool) {
	if cgroups.IsCgroup2UnifiedMode() ||
		cfg.Namespaces.Contains(configs.NEWCGROUP) {
		return "", false
	}
	for _, m := range cfg.Mounts {
		if m.Device == "cgroup" {
			return m.Destination, true
		}
	}
	return "", false
}

// dumpExtMounts lists the external mounts of a running container: its
// bind mounts, its masked files, its device nodes (bind-mounted ones
// matter) and, on cgroup v1, the cgroup directories under the cgroup
// mount. cgroupMounts and maskedFiles come from the running container.
func dumpExtMounts(cfg *configs.Config, cgroupMounts, maskedFiles []string,
) []*rpc.ExtMountMap {
	var ext []*rpc.ExtMountMap
	for _, m := range cfg.Mounts {
		if m.IsBind() {
			mp := mountpoint(cfg.Rootfs, m.Destination)
			ext = append(ext, extMount(mp, mp))
		}
	}
	for _, mp := range cgroupMounts {
		ext = append(ext, extMount(mp, mp))
	}
	for _, p := range maskedFiles {
		ext = append(ext, extMount(p, devNullKey))
	}
	for _, d := range cfg.Devices {
		mp := mountpoint(cfg.Rootfs, d.Path)
		ext = append(ext, extMount(mp, mp))
	}
	return ext
}

// restoreExtMounts maps the names dumpExtMounts gave to what to mount
// there now: the bind sources of cfg, host /dev/null for masked files,
// the host's device nodes, and the given cgroup v1 directories.
func restoreExtMounts(cfg *configs.Config, cgroupBinds map[string]string,
) []*rpc.ExtMountMap {
	var ext []*rpc.ExtMountMap
	for _, m := range cfg.Mounts {
		if m.IsBind() {
			ext = append(ext, extMount(mountpoint(cfg.Rootfs,
				m.Destination), m.Source))
		}
	}
	for _, mp := range slices.Sorted(maps.Keys(cgroupBinds)) {
		ext = append(ext, extMount(mp, cgroupBinds[mp]))
	}
	if len(cfg.MaskedPaths) > 0 {
		ext = append(ext, extMount(devNullKey, "/dev/null"))
	}
	for _, d := range cfg.Devices {
		ext = append(ext, extMount(mountpoint(cfg.Rootfs, d.Path), d.Path))
	}
	return ext
}

// containerCgroupMounts lists the cgroup v1 mounts under dest in the
// mount namespace of pid, by their mountpoint inside the container.
func containerCgroupMounts(pid int, dest string) ([]string, error) {
	infos, err := mountinfo.PidMountInfo(pid)
	if err != nil {
		return nil, fmt.Errorf("read mounts of %d: %w", pid, err)
	}
	dest = path.Clean("/" + dest)
	var list []string
	for _, mi := range infos {
		if mi.FSType == "cgroup" && strings.HasPrefix(mi.Mountpoint, dest+"/") {
			list = append(list, mi.Mountpoint)
		}
	}
	return list, nil
}

// maskedFiles lists the masked paths of the container whose init is pid
// that are files (directories are masked with a tmpfs, not a bind).
func maskedFiles(cfg *configs.Config, pid int) ([]string, error) {
	var list []string
	for _, p := range cfg.MaskedPaths {
		fi, err := os.Stat(fmt.Sprintf("/proc/%d/root/%s", pid, p))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("masked path %q: %w", p, err)
		}
		if !fi.IsDir() {
			list = append(list, p)
		}
	}
	return list, nil
}

// cgroupV1Binds computes, for a process in the container's cgroup (criu
// during a restore), the host directory of that cgroup in each v1
// hierarchy, keyed by the mountpoint package rootfs gives it inside the
// container: DEST/NAME, NAME being the hierarchy's mountpoint's base name.
func cgroupV1Binds(procCgroup map[string]string, hs []cgroups.Hierarchy,
	dest string) map[string]string {
	binds := map[string]string{}
	dest = path.Clean("/" + dest)
	for _, h := range hs {
		if len(h.Subsystems) == 0 {
			continue
		}
		own, ok := procCgroup[h.Subsystems[0]]
		if !ok {
			continue
		}
		rel, err := filepath.Rel(h.Root, own)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		name := path.Join(dest, filepath.Base(h.Mountpoint))
		binds[name] = filepath.Join(h.Mountpoint, rel)
	}
	return binds
}

// cgroupRoots tells criu where each controller's cgroup of the restored
// container is: the cgroup criu itself was put in.
func cgroupRoots(procCgroup map[string]string) []*rpc.CgroupRoot {
	var roots []*rpc.CgroupRoot
	for _, ctrl := range slices.Sorted(maps.Keys(procCgroup)) {
		ctrl, p := ctrl, procCgroup[ctrl]
		roots = append(roots, &rpc.CgroupRoot{Ctrl: &ctrl, Path: &p})
	}
	return roots
}

// prepareMountpoints makes the rootfs ready for criu to mount into, as a
// create would have left it: every mountpoint of cfg.Mounts exists, and
// bind mounts are mounted (in this, a private, mount namespace) so that
// the mountpoints of mounts nested in them can be made. Mountpoints on a
// tmpfs of the config are left alone: criu restores the tmpfs whole.
func prepareMountpoints(cfg *configs.Config) error {
	root, err := os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|
		unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()

	var tmpfs []string
	for _, m := range cfg.Mounts {
		if m.Device == "tmpfs" {
			tmpfs = append(tmpfs, path.Clean("/"+m.Destination))
		}
	}
	for _, m := range cfg.Mounts {
		dest := path.Clean("/" + m.Destination)
		if m.Device == "cgroup" || underAny(dest, tmpfs) {
			continue
		}
		isFile := false
		if m.IsBind() {
			fi, err := os.Stat(m.Source)
			if err != nil {
				return fmt.Errorf("bind source %q: %w", m.Source, err)
			}
			isFile = !fi.IsDir()
		}
		// A dangling link names what to create, as with a create;
		// makeMountpoint still resolves the result safely.
		target, err := makeMountpoint(root, mountpoint(cfg.Rootfs, dest),
			isFile)
		if err != nil {
			return fmt.Errorf("mountpoint %q: %w", dest, err)
		}
		if m.IsBind() {
			err = unix.Mount(m.Source, target.procPath(), "",
				unix.MS_BIND|unix.MS_REC, "")
			if err != nil {
				err = fmt.Errorf("bind %q on %q: %w", m.Source, dest, err)
			}
		}
		target.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// handle is an O_PATH fd of a mountpoint inside the rootfs.
type handle struct{ *os.File }

// procPath names the handle's target for mount(2) without walking the
// path again.
func (h handle) procPath() string {
	return fmt.Sprintf("/proc/self/fd/%d", h.Fd())
}

// makeMountpoint opens unsafeDest inside root, creating it (a directory,
// or an empty file) when missing, never following a symlink out of root.
func makeMountpoint(root *os.File, unsafeDest string, isFile bool) (
	handle, error) {
	if f, err := pathrs.OpenatInRoot(root, unsafeDest); err == nil {
		return handle{f}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return handle{}, err
	}
	if !isFile {
		f, err := pathrs.MkdirAllHandle(root, unsafeDest, 0o755)
		return handle{f}, err
	}
	dir, err := pathrs.MkdirAllHandle(root, path.Dir(unsafeDest), 0o755)
	if err != nil {
		return handle{}, err
	}
	defer dir.Close()
	name := path.Base(unsafeDest)
	err = unix.Mknodat(int(dir.Fd()), name, unix.S_IFREG|0o644, 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return handle{}, err
	}
	fd, err := unix.Openat(int(dir.Fd()), name,
		unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return handle{}, err
	}
	return handle{os.NewFile(uintptr(fd), unsafeDest)}, nil
}
