package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/userns"
)

// idmapFixture makes dir/src, owned by 1000:1000, holding a file "f" and
// a directory "sub" (each owned by 1000:1000), on the host stage.
func idmapFixture(t *testing.T) (dir, rootfs string) {
	return prepare(t, func(dir, _ string) {
		src := filepath.Join(dir, "src")
		mkdirs(t, filepath.Join(src, "sub"))
		for _, p := range []string{src, filepath.Join(src, "sub")} {
			if err := os.Chown(p, 1000, 1000); err != nil {
				t.Fatal(err)
			}
		}
		f := filepath.Join(src, "f")
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(f, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	})
}

// ownerMaps map 1000 on disk to host root, 0 on disk to 2000: what is
// 1000's shows as root's through the mount.
var ownerMaps = []configs.IDMap{
	{ContainerID: 1000, HostID: 0, Size: 1},
	{ContainerID: 0, HostID: 2000, Size: 1},
}

func idmapSource(t *testing.T, m *configs.Mount) *os.File {
	t.Helper()
	ns, err := userns.New(ownerMaps, ownerMaps)
	if err != nil {
		t.Fatalf("user namespace for the maps: %v", err)
	}
	defer ns.Close()
	src, err := IDMappedSource(m, int(ns.Fd()))
	if errors.Is(err, ErrIDMapUnsupported) {
		t.Skipf("no id-mapped mounts here: %v", err)
	}
	if err != nil {
		t.Fatalf("IDMappedSource: %v", err)
	}
	return src
}

// sourceAt gives tree for mount i and nothing for the others, as the
// parent would.
func sourceAt(i int, tree *os.File) SourceFunc {
	return func(j int) (*os.File, error) {
		if j != i {
			return nil, nil
		}
		return tree, nil
	}
}

func wantOwner(t *testing.T, path string, uid, gid uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("%s is owned by %d:%d, want %d:%d", path, st.Uid, st.Gid,
			uid, gid)
	}
}

// TestIDMappedBindShowsMappedOwners mounts an id-mapped tree made the way
// the parent makes it: files owned by 1000 show as root's, and a file root
// creates through the mount lands on disk as 1000's.
func TestIDMappedBindShowsMappedOwners(t *testing.T) {
	dir, rootfs := idmapFixture(t)
	src := filepath.Join(dir, "src")
	inMountNS(t, dir, func(t *testing.T) {
		m := &configs.Mount{Source: src, Destination: "/mnt",
			Device: "bind", Flags: unix.MS_BIND,
			IDMapping: &configs.MountIDMapping{UIDMappings: ownerMaps,
				GIDMappings: ownerMaps}}
		tree := idmapSource(t, m)
		defer tree.Close()
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs"}, m}}
		if err := MountAllFrom(cfg, sourceAt(1, tree)); err != nil {
			t.Fatalf("MountAllFrom: %v", err)
		}

		mnt := filepath.Join(rootfs, "mnt")
		wantOwner(t, mnt, 0, 0)
		wantOwner(t, filepath.Join(mnt, "f"), 0, 0)
		if err := os.WriteFile(filepath.Join(mnt, "new"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		wantOwner(t, filepath.Join(mnt, "new"), 0, 0)
		wantOwner(t, filepath.Join(src, "new"), 1000, 1000)

		// An id the maps leave out cannot own a file created there.
		err := unix.Fchownat(unix.AT_FDCWD, filepath.Join(mnt, "new"), 5, 5, 0)
		wantErrno(t, "chown to an unmapped id", err, unix.EOVERFLOW)
	})
}

// TestRecursiveIDMapReachesSubmounts: "ridmap" id-maps the mounts under
// the source too, "idmap" only the top one.
func TestRecursiveIDMapReachesSubmounts(t *testing.T) {
	for _, recursive := range []bool{false, true} {
		name := "idmap"
		if recursive {
			name = "ridmap"
		}
		t.Run(name, func(t *testing.T) {
			dir, rootfs := idmapFixture(t)
			src := filepath.Join(dir, "src")
			inMountNS(t, dir, func(t *testing.T) {
				sub := filepath.Join(src, "sub")
				mustMount(t, sub, sub, "", unix.MS_BIND, "")
				m := &configs.Mount{Source: src, Destination: "/mnt",
					Device: "bind", Flags: unix.MS_BIND | unix.MS_REC,
					IDMapping: &configs.MountIDMapping{
						Recursive:   recursive,
						UIDMappings: ownerMaps, GIDMappings: ownerMaps}}
				tree := idmapSource(t, m)
				defer tree.Close()
				cfg := &configs.Config{Rootfs: rootfs,
					Mounts: []*configs.Mount{m}}
				if err := MountAllFrom(cfg, sourceAt(0, tree)); err != nil {
					t.Fatalf("MountAllFrom: %v", err)
				}
				wantOwner(t, filepath.Join(rootfs, "mnt/f"), 0, 0)
				want := uint32(1000)
				if recursive {
					want = 0
				}
				wantOwner(t, filepath.Join(rootfs, "mnt/sub"), want, want)
			})
		})
	}
}

// TestIDMapOfUnsupportedFileSystemIsAClearError: sysfs cannot be
// id-mapped, and the error says so.
func TestIDMapOfUnsupportedFileSystemIsAClearError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to id-map a mount")
	}
	ns, err := userns.New(ownerMaps, ownerMaps)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	m := &configs.Mount{Source: "/sys", Destination: "/mnt", Device: "bind",
		Flags:     unix.MS_BIND,
		IDMapping: &configs.MountIDMapping{UIDMappings: ownerMaps}}
	tree, err := IDMappedSource(m, int(ns.Fd()))
	if err == nil {
		tree.Close()
		t.Fatal("sysfs was id-mapped")
	}
	if !errors.Is(err, ErrIDMapUnsupported) {
		t.Fatalf("got %v, want ErrIDMapUnsupported", err)
	}
	t.Log(err)
}
