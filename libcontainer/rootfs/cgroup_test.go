package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

func cgroupMount(flags int) *configs.Mount {
	return &configs.Mount{Source: "cgroup", Destination: "/sys/fs/cgroup",
		Device: "cgroup", Flags: unix.MS_NOSUID | unix.MS_NOEXEC |
			unix.MS_NODEV | unix.MS_RELATIME | flags}
}

func skipUnlessCgroupV1(t *testing.T) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil ||
		st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("the host has no cgroup v1 hierarchies")
	}
}

// TestCgroupV2 mounts the cgroup of a container on a cgroup v2 host,
// played by a cgroup2 mount on /sys/fs/cgroup in the test's namespace.
func TestCgroupV2(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		if err := unix.Unmount(cgroupRoot, unix.MNT_DETACH); err != nil {
			t.Fatalf("unmount %s: %v", cgroupRoot, err)
		}
		mustMount(t, "none", cgroupRoot, "cgroup2", 0, "")
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "sysfs", Destination: "/sys", Device: "sysfs",
				Flags: unix.MS_RDONLY},
			cgroupMount(unix.MS_RDONLY),
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		p := filepath.Join(rootfs, "sys/fs/cgroup")
		if got := statfsType(t, p); got != unix.CGROUP2_SUPER_MAGIC {
			t.Errorf("%s: file system %#x, want cgroup2", p, got)
		}
		m := mountAt(t, p)
		if m == nil || !hasOption(m.options, "ro") {
			t.Errorf("%s: %+v, want a read-only mount", p, m)
		}
	})
}

// TestCgroupV1WithCgroupNamespace checks that with a cgroup namespace
// every v1 hierarchy gets a real cgroup mount rather than a bind.
func TestCgroupV1WithCgroupNamespace(t *testing.T) {
	skipUnlessCgroupV1(t)
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		hierarchies, err := v1Hierarchies(false)
		if err != nil || len(hierarchies) == 0 {
			t.Fatalf("v1Hierarchies: %v, %v", hierarchies, err)
		}
		cfg := &configs.Config{Rootfs: rootfs,
			Namespaces: configs.Namespaces{{Type: configs.NEWCGROUP}},
			Mounts: []*configs.Mount{
				{Source: "sysfs", Destination: "/sys", Device: "sysfs"},
				cgroupMount(unix.MS_RDONLY),
			}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		top := filepath.Join(rootfs, "sys/fs/cgroup")
		if got := statfsType(t, top); got != unix.TMPFS_MAGIC {
			t.Errorf("%s is not a tmpfs", top)
		}
		for _, h := range hierarchies {
			p := filepath.Join(top, filepath.Base(h.mountpoint))
			m := mountAt(t, p)
			if m == nil || m.fstype != "cgroup" || !hasOption(m.options, "ro") {
				t.Errorf("%s: %+v, want a read-only cgroup mount", p, m)
			}
			if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	})
}

// TestCgroupV1Binds checks that without a cgroup namespace each v1
// hierarchy shows the container's own cgroup, writable when the mount is.
func TestCgroupV1Binds(t *testing.T) {
	skipUnlessCgroupV1(t)
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		hierarchies, err := v1Hierarchies(true)
		if err != nil || len(hierarchies) == 0 {
			t.Fatalf("v1Hierarchies: %v, %v", hierarchies, err)
		}
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "sysfs", Destination: "/sys", Device: "sysfs"},
			cgroupMount(0),
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		for _, h := range hierarchies {
			rel, _ := filepath.Rel(h.root, h.path)
			hostDir := filepath.Join(h.mountpoint, rel)
			p := filepath.Join(rootfs, "sys/fs/cgroup",
				filepath.Base(h.mountpoint))
			var want, got unix.Stat_t
			if err := unix.Stat(hostDir, &want); err != nil {
				t.Fatal(err)
			}
			if err := unix.Stat(p, &got); err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			if got.Ino != want.Ino || got.Dev != want.Dev {
				t.Errorf("%s is not the own cgroup %s", p, hostDir)
			}
			if m := mountAt(t, p); m == nil || hasOption(m.options, "ro") ||
				!hasOption(m.options, "nosuid") {
				t.Errorf("%s: %+v, want rw,nosuid", p, m)
			}
		}
	})
}
