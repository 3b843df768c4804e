package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

const cgroupRoot = "/sys/fs/cgroup"

// mountCgroup handles a mount of type "cgroup": the container gets its own
// cgroup directories, the v1 or v2 way as the host has them.
func (mt *mounter) mountCgroup(m *configs.Mount) error {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: cgroupRoot, Err: err}
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return mt.mountCgroup2(m)
	}
	return mt.mountCgroup1(m)
}

// mountCgroup2 mounts a cgroup2 file system. Where the kernel refuses
// (a user namespace without its own cgroup namespace), it bind-mounts the
// container's own cgroup directory instead, or the whole hierarchy when
// there is no cgroup namespace to emulate.
func (mt *mounter) mountCgroup2(m *configs.Mount) error {
	fs := *m
	fs.Device = "cgroup2"
	mnt, err := mt.mountFS(&fs)
	if err == nil {
		mnt.Close()
		return nil
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EBUSY) {
		return err
	}

	bind := &configs.Mount{
		Source:           cgroupRoot,
		Destination:      m.Destination,
		Device:           "bind",
		Flags:            unix.MS_BIND | m.Flags,
		PropagationFlags: m.PropagationFlags,
		RecAttr:          m.RecAttr,
	}
	if mt.cgroupns {
		// TODO: in a cgroup namespace /proc/self/cgroup shows the
		// namespace root, so this binds all of it; the exact directory
		// would have to come from the parent's cgroup manager. Only
		// reached when the kernel refuses cgroup2 in a cgroup namespace
		// towel did not create.
		own, err := ownCgroups()
		if err != nil {
			return err
		}
		bind.Source = path.Join(cgroupRoot, own["0"].path)
	}
	mnt, err = mt.mountBind(bind, nil)
	if err != nil {
		return fmt.Errorf("cgroup2 mount refused, bind instead: %w", err)
	}
	mnt.Close()
	return nil
}

// mountCgroup1 lays out cgroup v1 as runc does: a tmpfs at the
// destination and under it one directory per hierarchy, named as on the
// host. With a cgroup namespace each gets a real cgroup mount (which shows
// the namespace's root); without one, the container's own cgroup
// directory of that hierarchy is bind-mounted. Co-mounted controllers
// ("cpu,cpuacct") also get a symlink per controller.
func (mt *mounter) mountCgroup1(m *configs.Mount) error {
	hierarchies, err := v1Hierarchies(!mt.cgroupns)
	if err != nil {
		return err
	}

	tmpfs := &configs.Mount{
		Source:           "tmpfs",
		Destination:      m.Destination,
		Device:           "tmpfs",
		Flags:            defaultMountFlags,
		Data:             "mode=755",
		PropagationFlags: m.PropagationFlags,
	}
	top, err := mt.mountFS(tmpfs)
	if err != nil {
		return err
	}
	defer top.Close()

	for _, h := range hierarchies {
		// The tmpfs is new and empty: the names cannot be links.
		name := filepath.Base(h.mountpoint)
		if err := mt.mountHierarchy(m, top, name, h); err != nil {
			return fmt.Errorf("cgroup hierarchy %s: %w", h.controllers, err)
		}
		if !strings.Contains(name, ",") {
			continue
		}
		for _, ctrl := range strings.Split(name, ",") {
			err := unix.Symlinkat(name, int(top.Fd()), ctrl)
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return &os.PathError{Op: "symlink", Path: ctrl, Err: err}
			}
		}
	}
	return nil
}

func (mt *mounter) mountHierarchy(m *configs.Mount, top *os.File,
	name string, h v1Hierarchy) error {
	dir, err := pathrs.MkdirAllHandle(top, name, 0o755)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	defer dir.Close()

	var mnt *os.File
	if mt.cgroupns {
		var dirPath string
		dirPath, err = fdPath(dir)
		if err != nil {
			return err
		}
		flags := defaultMountFlags | m.Flags&unix.MS_RDONLY
		mnt, err = mountOnto("cgroup", dir, dirPath, "cgroup",
			uintptr(flags), h.controllers)
		if err == nil {
			err = setPropagation(mnt, m.PropagationFlags)
		}
	} else {
		rel, relErr := filepath.Rel(h.root, h.path)
		if relErr != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("own cgroup %q is outside the hierarchy"+
				" mounted at %q", h.path, h.mountpoint)
		}
		bind := &configs.Mount{
			Source:           filepath.Join(h.mountpoint, rel),
			Destination:      path.Join(m.Destination, name),
			Device:           "bind",
			Flags:            unix.MS_BIND | unix.MS_REC | m.Flags,
			PropagationFlags: m.PropagationFlags,
		}
		mnt, err = mt.bindOnto(bind, dir, nil)
	}
	if mnt != nil {
		mnt.Close()
	}
	return err
}

// v1Hierarchy is one cgroup v1 hierarchy of the host as towel sees it.
type v1Hierarchy struct {
	mountpoint  string // where it is mounted, /sys/fs/cgroup/cpu,cpuacct
	root        string // the cgroup shown at the mountpoint
	controllers string // as in /proc/self/cgroup: "cpu,cpuacct", "name=systemd"
	path        string // towel's own cgroup in it
}

// v1Hierarchies lists the cgroup v1 hierarchies that are mounted, in
// mount order, one mount each. With needOwn, only a mount that shows
// towel's own cgroup will do.
func v1Hierarchies(needOwn bool) ([]v1Hierarchy, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}

	var list []v1Hierarchy
	seen := map[string]bool{}
	for _, mi := range mounts {
		opts := map[string]bool{}
		for _, o := range strings.Split(mi.VFSOptions, ",") {
			opts[o] = true
		}
		for id, c := range own {
			if id == "0" || seen[id] || !hasAll(opts, c.controllers) {
				continue
			}
			rel, err := filepath.Rel(mi.Root, c.path)
			if needOwn && (err != nil || strings.HasPrefix(rel, "..")) {
				// A mount of a subtree that does not hold our cgroup.
				continue
			}
			seen[id] = true
			list = append(list, v1Hierarchy{
				mountpoint:  mi.Mountpoint,
				root:        mi.Root,
				controllers: c.controllers,
				path:        c.path,
			})
		}
	}
	return list, nil
}

// hasAll reports whether every controller of a comma-separated list is an
// option of the mount.
func hasAll(opts map[string]bool, controllers string) bool {
	if controllers == "" {
		return false
	}
	for _, c := range strings.Split(controllers, ",") {
		if !opts[c] {
			return false
		}
	}
	return true
}

// ownCgroup is a line of /proc/self/cgroup.
type ownCgroup struct {
	controllers string
	path        string
}

// ownCgroups reads /proc/self/cgroup, whose lines are
// "hierarchy-ID:controller-list:cgroup-path" (cgroups(7)); the v2
// hierarchy is ID 0 with no controllers.
func ownCgroups() (map[string]ownCgroup, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	own := map[string]ownCgroup{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("/proc/self/cgroup: bad line %q",
				sc.Text())
		}
		own[parts[0]] = ownCgroup{controllers: parts[1], path: parts[2]}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	return own, nil
}
