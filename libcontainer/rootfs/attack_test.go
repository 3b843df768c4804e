package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// These tests play a hostile image: symlinks planted in the rootfs that
// point at the host, which towel must resolve inside the rootfs.

// TestDevSymlinkToHostDir: the image's /dev is a symlink to a directory of
// the host. Nothing may be created in that host directory, with or without
// a tmpfs mounted on /dev.
func TestDevSymlinkToHostDir(t *testing.T) {
	for _, withTmpfs := range []bool{false, true} {
		name := "no dev mount"
		if withTmpfs {
			name = "tmpfs on dev"
		}
		t.Run(name, func(t *testing.T) {
			var hostDev string
			dir, rootfs := prepare(t, func(dir, rootfs string) {
				hostDev = filepath.Join(dir, "hostdev")
				mkdirs(t, hostDev)
				devPath := filepath.Join(rootfs, "dev")
				if err := os.Remove(devPath); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(hostDev, devPath); err != nil {
					t.Fatal(err)
				}
			})
			inMountNS(t, dir, func(t *testing.T) {
				cfg := &configs.Config{Rootfs: rootfs,
					Devices: DefaultDevices()}
				cfg.Mounts = []*configs.Mount{
					{Source: "proc", Destination: "/proc", Device: "proc"},
				}
				if withTmpfs {
					cfg.Mounts = append(cfg.Mounts, &configs.Mount{
						Source: "tmpfs", Destination: "/dev", Device: "tmpfs"},
						&configs.Mount{Source: "devpts",
							Destination: "/dev/pts", Device: "devpts",
							Data: "newinstance,ptmxmode=0666"})
				}
				if err := MountAll(cfg); err != nil {
					t.Fatalf("MountAll: %v", err)
				}
				// The link names a path that is looked up in the rootfs.
				inside := filepath.Join(rootfs, filepath.Join(dir, "hostdev"))
				wantCharDev(t, filepath.Join(inside, "null"), 1, 3, 0o666)
				if withTmpfs && mountAt(t, inside) == nil {
					t.Errorf("tmpfs not mounted at %s", inside)
				}
				if err := PivotRoot(cfg); err != nil {
					t.Fatalf("PivotRoot: %v", err)
				}
				wantCharDev(t, "/dev/null", 1, 3, 0o666)
			})
			if stage(t) == "" {
				entries, err := os.ReadDir(hostDev)
				if err != nil || len(entries) != 0 {
					t.Errorf("host directory %s got %v (%v)", hostDev,
						entries, err)
				}
			}
		})
	}
}

// TestBindDestinationSymlinkStaysInRootfs: a destination that goes through
// a symlink to "/" or up with "../../.." lands in the rootfs, never on the
// host's root.
func TestBindDestinationSymlinkStaysInRootfs(t *testing.T) {
	tests := []struct{ name, link, dest string }{
		{"new directory under a link to root", "/",
			"/evil/towel-escape-abs"},
		{"new directory under a link up", "../../..",
			"/evil/towel-escape-up"},
		{"the link to root itself", "/", "/evil"},
		{"the link up itself", "../../../../../../..", "/evil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, rootfs := prepare(t, func(dir, rootfs string) {
				mkdirs(t, filepath.Join(dir, "src"))
				err := os.WriteFile(filepath.Join(dir, "src/marker"), nil,
					0o644)
				if err != nil {
					t.Fatal(err)
				}
				err = os.Symlink(tt.link, filepath.Join(rootfs, "evil"))
				if err != nil {
					t.Fatal(err)
				}
			})
			escaped := strings.TrimPrefix(tt.dest, "/evil")
			inMountNS(t, dir, func(t *testing.T) {
				hostRoot := mountAt(t, "/")
				cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
					{Source: filepath.Join(dir, "src"), Destination: tt.dest,
						Device: "bind", Flags: unix.MS_BIND},
				}}
				if err := MountAll(cfg); err != nil {
					t.Fatalf("MountAll: %v", err)
				}
				if got := mountAt(t, "/"); *got != *hostRoot {
					t.Errorf("a mount landed on the host's root: %+v", got)
				}
				inside := filepath.Join(rootfs, escaped)
				if _, err := os.Stat(filepath.Join(inside, "marker")); err != nil {
					t.Errorf("bind is not at %s: %v", inside, err)
				}
			})
			if stage(t) == "" && escaped != "" {
				if _, err := os.Lstat(escaped); err == nil {
					os.Remove(escaped)
					t.Errorf("%s was created on the host", escaped)
				}
			}
		})
	}
}

// TestMaskRefusesFakeDevNull: with /dev from the image, a regular file at
// /dev/null must not be mounted over masked paths.
func TestMaskRefusesFakeDevNull(t *testing.T) {
	dir, rootfs := prepare(t, func(dir, _ string) {
		fakeDev := filepath.Join(dir, "fakedev")
		mkdirs(t, fakeDev)
		err := os.WriteFile(filepath.Join(fakeDev, "null"),
			[]byte("not a device"), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	})
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc"},
			{Source: filepath.Join(dir, "fakedev"), Destination: "/dev",
				Device: "bind", Flags: unix.MS_BIND},
		}, MaskedPaths: []string{"/etc/hostname"}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		if err := PivotRoot(cfg); err != nil {
			t.Fatalf("PivotRoot: %v", err)
		}
		err := Finalize(cfg)
		if err == nil || !strings.Contains(err.Error(), "not the null device") {
			t.Errorf("Finalize = %v, want a refusal of the fake /dev/null", err)
		}
		data, _ := os.ReadFile("/etc/hostname")
		if string(data) != "towel\n" {
			t.Errorf("/etc/hostname was covered: %q", data)
		}
	})
}

// TestMaskedAndReadonlyPathsThroughSymlinks: paths are resolved inside the
// new root, so a masked path that is a symlink to the host's idea of a
// path masks the container's file.
func TestMaskedAndReadonlyPathsThroughSymlinks(t *testing.T) {
	dir, rootfs := prepare(t, func(_, rootfs string) {
		mkdirs(t, filepath.Join(rootfs, "data/secret"))
		err := os.Symlink("/../../data", filepath.Join(rootfs, "ro-link"))
		if err != nil {
			t.Fatal(err)
		}
		err = os.Symlink("../../../etc/hostname",
			filepath.Join(rootfs, "mask-link"))
		if err != nil {
			t.Fatal(err)
		}
	})
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc"},
			{Source: "tmpfs", Destination: "/dev", Device: "tmpfs"},
		}, Devices: DefaultDevices(),
			ReadonlyPaths: []string{"/ro-link", "/does/not/exist"},
			MaskedPaths:   []string{"/mask-link", "/data/secret", "/nope"},
		}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		if err := PivotRoot(cfg); err != nil {
			t.Fatalf("PivotRoot: %v", err)
		}
		if err := Finalize(cfg); err != nil {
			t.Fatalf("Finalize: %v", err)
		}
		wantErrno(t, "write under read-only /data",
			os.WriteFile("/data/x", nil, 0o644), unix.EROFS)
		wantCharDev(t, "/etc/hostname", 1, 3, 0)
		if got := statfsType(t, "/data/secret"); got != unix.TMPFS_MAGIC {
			t.Errorf("/data/secret not masked: %#x", got)
		}
	})
}
