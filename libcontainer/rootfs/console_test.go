package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// TestMountConsole plants each kind of entry an image may have at
// /dev/console and checks that the pty slave ends up mounted there and
// nowhere else. MountConsole runs with the host's root as the process
// root, so a symlink that were followed would reach the host.
func TestMountConsole(t *testing.T) {
	for _, tc := range []struct {
		name string
		// plant makes rootfs/dev/console; host is a host directory the
		// image must not reach.
		plant   func(t *testing.T, devDir, host string)
		wantErr unix.Errno
	}{
		{name: "missing", plant: func(*testing.T, string, string) {}},
		{name: "symlink to a host file", plant: func(t *testing.T, dev, host string) {
			symlink(t, filepath.Join(host, "file"), filepath.Join(dev, "console"))
		}},
		{name: "relative symlink out of the rootfs", plant: func(t *testing.T, dev, host string) {
			symlink(t, "../../../../../../../../"+filepath.Join(host, "file"),
				filepath.Join(dev, "console"))
		}},
		{name: "fifo", plant: func(t *testing.T, dev, _ string) {
			if err := unix.Mkfifo(filepath.Join(dev, "console"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "regular file", plant: func(t *testing.T, dev, _ string) {
			writeFile(t, filepath.Join(dev, "console"), "image\n")
		}},
		{name: "directory", wantErr: unix.EISDIR, plant: func(t *testing.T, dev, _ string) {
			mkdirs(t, filepath.Join(dev, "console"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := testDir(t)
			rootfs := filepath.Join(dir, "rootfs")
			host := filepath.Join(dir, "host")
			hostFile := filepath.Join(host, "file")
			if stage(t) == "" {
				mkdirs(t, filepath.Join(rootfs, "dev"), host)
				writeFile(t, hostFile, "host\n")
				tc.plant(t, filepath.Join(rootfs, "dev"), host)
			}
			inMountNS(t, dir, func(t *testing.T) {
				slave := newSlave(t)
				root := openPath(t, rootfs)
				err := MountConsole(root, slave)
				if tc.wantErr != 0 {
					wantErrno(t, "MountConsole", err, tc.wantErr)
					return
				}
				if err != nil {
					t.Fatalf("MountConsole: %v", err)
				}
				wantSameFile(t, filepath.Join(rootfs, "dev/console"), slave)
				if m := mountAt(t, hostFile); m != nil {
					t.Errorf("something is mounted on the host file: %+v", m)
				}
			})
			if stage(t) != "" {
				return
			}
			if got, err := os.ReadFile(hostFile); err != nil || string(got) != "host\n" {
				t.Errorf("host file now holds %q (%v)", got, err)
			}
		})
	}
}

// TestMountConsoleDevSymlink: /dev itself is a symlink to a host
// directory. It is looked up in the rootfs, where it names nothing, and
// the host directory stays empty.
func TestMountConsoleDevSymlink(t *testing.T) {
	dir := testDir(t)
	rootfs := filepath.Join(dir, "rootfs")
	host := filepath.Join(dir, "hostdev")
	if stage(t) == "" {
		mkdirs(t, rootfs, host)
		symlink(t, host, filepath.Join(rootfs, "dev"))
	}
	inMountNS(t, dir, func(t *testing.T) {
		err := MountConsole(openPath(t, rootfs), newSlave(t))
		wantErrno(t, "MountConsole", err, unix.ENOENT)
	})
	if stage(t) == "" {
		if entries, _ := os.ReadDir(host); len(entries) != 0 {
			t.Errorf("host directory got %v", entries)
		}
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newSlave opens a new pty from the host's /dev/ptmx and returns its
// slave; both ends are closed when t ends.
func newSlave(t *testing.T) *os.File {
	t.Helper()
	master, name, err := console.NewPty()
	if err != nil {
		t.Skipf("no pty on this host: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return slave
}

func openPath(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// wantSameFile checks that path (followed) is the file f is open on.
func wantSameFile(t *testing.T, path string, f *os.File) {
	t.Helper()
	var got, want unix.Stat_t
	if err := unix.Stat(path, &got); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if err := unix.Fstat(int(f.Fd()), &want); err != nil {
		t.Fatal(err)
	}
	if got.Dev != want.Dev || got.Ino != want.Ino || got.Rdev != want.Rdev {
		t.Errorf("%s is %d:%d (rdev %#x), want the pty %d:%d (rdev %#x)",
			path, got.Dev, got.Ino, got.Rdev, want.Dev, want.Ino, want.Rdev)
	}
}
