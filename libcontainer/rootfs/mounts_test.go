package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

func mustMount(t *testing.T, src, dst, fstype string, flags uintptr,
	data string) {
	t.Helper()
	if err := unix.Mount(src, dst, fstype, flags, data); err != nil {
		t.Fatalf("mount %s on %s: %v", src, dst, err)
	}
}

func mkdirs(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBindMountFlags checks the runc 1.2 rule for bind mounts: without
// options the source's flags are kept, and any option, a clearing one
// alone included, remounts with exactly the requested flags.
func TestBindMountFlags(t *testing.T) {
	const locked = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV |
		unix.MS_NOEXEC
	tests := []struct {
		name     string
		srcFlags uintptr
		flags    int
		cleared  int
		want     []string
		wantNot  []string
	}{
		{"no option keeps a read-only source", unix.MS_RDONLY,
			0, 0, []string{"ro"}, nil},
		{"rw alone makes a read-only source writable", unix.MS_RDONLY,
			0, unix.MS_RDONLY, []string{"rw"}, []string{"ro"}},
		{"exec alone clears noexec", locked,
			0, unix.MS_NOEXEC, nil, []string{"noexec", "ro"}},
		{"suid alone clears every flag not asked for", locked,
			0, unix.MS_NOSUID, []string{"rw"},
			[]string{"nosuid", "nodev", "noexec"}},
		{"set flags on a plain source", 0,
			unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC, 0,
			[]string{"ro", "nosuid", "noexec"}, []string{"nodev"}},
		{"noatime", 0, unix.MS_NOATIME, 0, []string{"noatime"},
			[]string{"relatime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, rootfs := prepare(t, func(dir, _ string) {
				mkdirs(t, filepath.Join(dir, "src"))
			})
			inMountNS(t, dir, func(t *testing.T) {
				src := filepath.Join(dir, "src")
				mustMount(t, src, src, "", unix.MS_BIND, "")
				if tt.srcFlags != 0 {
					mustMount(t, "", src, "", unix.MS_BIND|unix.MS_REMOUNT|
						tt.srcFlags, "")
				}
				cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
					{Source: src, Destination: "/data", Device: "bind",
						Flags:        unix.MS_BIND | tt.flags,
						ClearedFlags: tt.cleared},
				}}
				if err := MountAll(cfg); err != nil {
					t.Fatalf("MountAll: %v", err)
				}
				m := mountAt(t, filepath.Join(rootfs, "data"))
				if m == nil {
					t.Fatal("no mount on /data")
				}
				for _, o := range tt.want {
					if !hasOption(m.options, o) {
						t.Errorf("options %q lack %q", m.options, o)
					}
				}
				for _, o := range tt.wantNot {
					if hasOption(m.options, o) {
						t.Errorf("options %q have %q", m.options, o)
					}
				}
			})
		})
	}
}

// TestRecursiveReadonly checks "rro": every mount under the bind mount is
// read-only too, where a plain "ro" only reaches the top one.
func TestRecursiveReadonly(t *testing.T) {
	dir, rootfs := prepare(t, func(dir, _ string) {
		mkdirs(t, filepath.Join(dir, "src/sub"))
	})
	inMountNS(t, dir, func(t *testing.T) {
		src := filepath.Join(dir, "src")
		mustMount(t, "tmpfs", filepath.Join(src, "sub"), "tmpfs", 0, "")
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: src, Destination: "/ro", Device: "bind",
				Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY},
			{Source: src, Destination: "/rro", Device: "bind",
				Flags: unix.MS_BIND | unix.MS_REC,
				RecAttr: &unix.MountAttr{
					Attr_set: unix.MOUNT_ATTR_RDONLY}},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		err := os.WriteFile(filepath.Join(rootfs, "ro/sub/x"), nil, 0o644)
		if err != nil {
			t.Errorf("plain ro reached the submount: %v", err)
		}
		wantErrno(t, "write to rro top",
			os.WriteFile(filepath.Join(rootfs, "rro/x"), nil, 0o644),
			unix.EROFS)
		wantErrno(t, "write to rro submount",
			os.WriteFile(filepath.Join(rootfs, "rro/sub/y"), nil, 0o644),
			unix.EROFS)
	})
}

// TestPropagationFlags checks that a mount's propagation options are
// applied to it.
func TestPropagationFlags(t *testing.T) {
	dir, rootfs := prepare(t, func(dir, _ string) {
		mkdirs(t, filepath.Join(dir, "src"))
	})
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: filepath.Join(dir, "src"), Destination: "/shared",
				Device: "bind", Flags: unix.MS_BIND,
				PropagationFlags: []int{unix.MS_SHARED}},
			{Source: "tmpfs", Destination: "/unbindable", Device: "tmpfs",
				PropagationFlags: []int{unix.MS_UNBINDABLE}},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		m := mountAt(t, filepath.Join(rootfs, "shared"))
		if m == nil || !strings.Contains(m.optional, "shared:") {
			t.Errorf("/shared is not shared: %+v", m)
		}
		m = mountAt(t, filepath.Join(rootfs, "unbindable"))
		if m == nil || !strings.Contains(m.optional, "unbindable") {
			t.Errorf("/unbindable is not unbindable: %+v", m)
		}
	})
}

// TestTmpfsMode checks that a tmpfs takes the mode of the directory it
// covers unless the options set one.
func TestTmpfsMode(t *testing.T) {
	dir, rootfs := prepare(t, func(_, rootfs string) {
		for _, d := range []string{"keep", "override"} {
			p := filepath.Join(rootfs, d)
			mkdirs(t, p)
			if err := unix.Chmod(p, 0o2750); err != nil {
				t.Fatal(err)
			}
		}
	})
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs"},
			{Source: "tmpfs", Destination: "/keep", Device: "tmpfs",
				Data: "size=1m"},
			{Source: "tmpfs", Destination: "/override", Device: "tmpfs",
				Data: "mode=700"},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		for d, want := range map[string]uint32{"tmp": 0o1777,
			"keep": 0o2750, "override": 0o700} {
			p := filepath.Join(rootfs, d)
			if got := statfsType(t, p); got != unix.TMPFS_MAGIC {
				t.Errorf("%s is not a tmpfs", d)
			}
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode&0o7777 != want {
				t.Errorf("/%s: mode %o, want %o", d, st.Mode&0o7777, want)
			}
		}
	})
}

// TestReadonlyTmpfsWaitsForFinalize checks that a read-only tmpfs is
// writable until Finalize, for device nodes and the console.
func TestReadonlyTmpfsWaitsForFinalize(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc"},
			{Source: "tmpfs", Destination: "/dev", Device: "tmpfs",
				Flags: unix.MS_RDONLY | unix.MS_NOSUID},
		}, Devices: DefaultDevices()}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		if err := PivotRoot(cfg); err != nil {
			t.Fatalf("PivotRoot: %v", err)
		}
		if err := os.WriteFile("/dev/console", nil, 0o600); err != nil {
			t.Errorf("/dev is read-only before Finalize: %v", err)
		}
		if err := Finalize(cfg); err != nil {
			t.Fatalf("Finalize: %v", err)
		}
		m := mountAt(t, "/dev")
		if m == nil || !hasOption(m.options, "ro") ||
			!hasOption(m.options, "nosuid") {
			t.Errorf("/dev after Finalize: %+v, want ro,nosuid", m)
		}
		wantCharDev(t, "/dev/null", 1, 3, 0o666)
	})
}

// TestTmpCopyUp checks that "tmpcopyup" fills the tmpfs with what the
// directory held, symlinks as symlinks, and that writes stay in the tmpfs.
func TestTmpCopyUp(t *testing.T) {
	dir, rootfs := prepare(t, func(_, rootfs string) {
		etc := filepath.Join(rootfs, "etc")
		mkdirs(t, filepath.Join(etc, "sub"))
		files := map[string]string{"passwd": "root:x:0:0::/root:/bin/sh\n",
			"sub/conf": "a=1\n"}
		for name, content := range files {
			err := os.WriteFile(filepath.Join(etc, name), []byte(content),
				0o640)
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("/outside/target", filepath.Join(etc,
			"link")); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(etc, "passwd"), 12, 34); err != nil {
			t.Fatal(err)
		}
	})
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "tmpfs", Destination: "/etc", Device: "tmpfs",
				TmpCopyUp: true},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		etc := filepath.Join(rootfs, "etc")
		if got := statfsType(t, etc); got != unix.TMPFS_MAGIC {
			t.Fatalf("/etc is not a tmpfs")
		}
		data, err := os.ReadFile(filepath.Join(etc, "sub/conf"))
		if err != nil || string(data) != "a=1\n" {
			t.Errorf("sub/conf: %q, %v", data, err)
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(etc, "passwd"), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 12 || st.Gid != 34 || st.Mode&0o777 != 0o640 {
			t.Errorf("passwd: owner %d:%d mode %o, want 12:34 640",
				st.Uid, st.Gid, st.Mode&0o777)
		}
		wantLink(t, filepath.Join(etc, "link"), "/outside/target")
		err = os.WriteFile(filepath.Join(etc, "new"), []byte("x"), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	})
	if stage(t) == "" {
		if _, err := os.Lstat(filepath.Join(rootfs, "etc/new")); err == nil {
			t.Error("a write to the tmpfs reached the rootfs")
		}
	}
}

// TestRemountOption checks "remount", with and without "bind": the mount
// already at the destination changes, nothing new is mounted.
func TestRemountOption(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs"},
			{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs",
				Flags: unix.MS_REMOUNT | unix.MS_NOEXEC},
			{Source: dir, Destination: "/data", Device: "bind",
				Flags: unix.MS_BIND},
			{Source: dir, Destination: "/data", Device: "bind",
				Flags: unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		for d, o := range map[string]string{"tmp": "noexec", "data": "ro"} {
			count := 0
			for _, m := range readMountinfo(t) {
				if m.mountpoint == filepath.Join(rootfs, d) {
					count++
					if !hasOption(m.options, o) {
						t.Errorf("/%s not remounted %s: %q", d, o, m.options)
					}
				}
			}
			if count != 1 {
				t.Errorf("%d mounts on /%s, want 1", count, d)
			}
		}
	})
}

// TestBindFileCreatesTarget checks that binding a file creates an empty
// file to mount on, following a dangling symlink inside the rootfs to
// where it points, as runc does for an image's /etc/resolv.conf.
func TestBindFileCreatesTarget(t *testing.T) {
	dir, rootfs := prepare(t, func(dir, rootfs string) {
		err := os.WriteFile(filepath.Join(dir, "resolv.conf"),
			[]byte("nameserver 192.0.2.1\n"), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		err = os.Symlink("../run/systemd/resolv.conf",
			filepath.Join(rootfs, "etc/resolv.conf"))
		if err != nil {
			t.Fatal(err)
		}
	})
	inMountNS(t, dir, func(t *testing.T) {
		src := filepath.Join(dir, "resolv.conf")
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: src, Destination: "/etc/resolv.conf", Device: "bind",
				Flags: unix.MS_BIND},
			{Source: src, Destination: "/new/dir/hosts", Device: "bind",
				Flags: unix.MS_BIND | unix.MS_RDONLY},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		for _, p := range []string{"run/systemd/resolv.conf",
			"etc/resolv.conf", "new/dir/hosts"} {
			data, err := os.ReadFile(filepath.Join(rootfs, p))
			if err != nil || string(data) != "nameserver 192.0.2.1\n" {
				t.Errorf("%s: %q, %v", p, data, err)
			}
		}
		if mountAt(t, filepath.Join(rootfs, "run/systemd/resolv.conf")) ==
			nil {
			t.Error("the bind did not land where the symlink points")
		}
	})
}

// TestProcDestinations checks the /proc rules: only a procfs covers
// /proc, and under it only the files lxcfs emulates take a mount.
func TestProcDestinations(t *testing.T) {
	tests := []struct {
		name   string
		mounts func(dir string) []*configs.Mount
		ok     bool
	}{
		{"tmpfs on /proc", func(string) []*configs.Mount {
			return []*configs.Mount{{Source: "tmpfs", Destination: "/proc",
				Device: "tmpfs"}}
		}, false},
		{"bind of a directory on /proc", func(dir string) []*configs.Mount {
			return []*configs.Mount{{Source: dir, Destination: "/proc",
				Device: "bind", Flags: unix.MS_BIND}}
		}, false},
		{"bind of the host procfs on /proc", func(string) []*configs.Mount {
			return []*configs.Mount{{Source: "/proc", Destination: "/proc",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_REC}}
		}, true},
		{"bind on /proc/sys", func(dir string) []*configs.Mount {
			return []*configs.Mount{
				{Source: "proc", Destination: "/proc", Device: "proc"},
				{Source: dir, Destination: "/proc/sys", Device: "bind",
					Flags: unix.MS_BIND}}
		}, false},
		{"bind of a file on /proc/uptime", func(dir string) []*configs.Mount {
			return []*configs.Mount{
				{Source: "proc", Destination: "/proc", Device: "proc"},
				{Source: filepath.Join(dir, "uptime"),
					Destination: "/proc/uptime", Device: "bind",
					Flags: unix.MS_BIND}}
		}, true},
		{"bind on /proc through a symlink", func(dir string) []*configs.Mount {
			return []*configs.Mount{
				{Source: "proc", Destination: "/proc", Device: "proc"},
				{Source: dir, Destination: "/p/sys", Device: "bind",
					Flags: unix.MS_BIND}}
		}, false},
		{"proc on a symlink", func(string) []*configs.Mount {
			return []*configs.Mount{{Source: "proc", Destination: "/p",
				Device: "proc"}}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, rootfs := prepare(t, func(dir, rootfs string) {
				err := os.WriteFile(filepath.Join(dir, "uptime"),
					[]byte("1.0 1.0\n"), 0o644)
				if err != nil {
					t.Fatal(err)
				}
				err = os.Symlink("proc", filepath.Join(rootfs, "p"))
				if err != nil {
					t.Fatal(err)
				}
			})
			inMountNS(t, dir, func(t *testing.T) {
				cfg := &configs.Config{Rootfs: rootfs,
					Mounts: tt.mounts(dir)}
				err := MountAll(cfg)
				if tt.ok && err != nil {
					t.Errorf("MountAll: %v", err)
				}
				if !tt.ok && err == nil {
					t.Error("MountAll accepted the mount")
				}
				t.Logf("MountAll: %v", err)
			})
		})
	}
}

// TestOverlayMount checks a file system whose data names host paths.
func TestOverlayMount(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		// A tmpfs, since the test directory may be an overlay itself.
		ovl := filepath.Join(dir, "ovl")
		mkdirs(t, ovl)
		mustMount(t, "tmpfs", ovl, "tmpfs", 0, "")
		lower, upper, work := filepath.Join(ovl, "lower"),
			filepath.Join(ovl, "upper"), filepath.Join(ovl, "work")
		mkdirs(t, lower, upper, work)
		err := os.WriteFile(filepath.Join(lower, "from-lower"), nil, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "overlay", Destination: "/merged", Device: "overlay",
				Flags: unix.MS_NODEV,
				Data: "lowerdir=" + lower + ",upperdir=" + upper +
					",workdir=" + work},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		merged := filepath.Join(rootfs, "merged")
		if _, err := os.Stat(filepath.Join(merged, "from-lower")); err != nil {
			t.Errorf("lower layer not visible: %v", err)
		}
		err = os.WriteFile(filepath.Join(merged, "new"), nil, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(upper, "new")); err != nil {
			t.Errorf("write did not reach the upper layer: %v", err)
		}
		if m := mountAt(t, merged); m == nil || m.fstype != "overlay" ||
			!hasOption(m.options, "nodev") {
			t.Errorf("/merged: %+v, want an overlay with nodev", m)
		}
	})
}
