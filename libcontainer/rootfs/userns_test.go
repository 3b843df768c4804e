package rootfs

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

func TestDefaultDevicesMatchRunc(t *testing.T) {
	want := map[string][2]int64{
		"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/full": {1, 7},
		"/dev/random": {1, 8}, "/dev/urandom": {1, 9}, "/dev/tty": {5, 0},
	}
	got := map[string][2]int64{}
	for _, d := range DefaultDevices() {
		if d.Type != 'c' || d.FileMode != 0o666 || d.UID != 0 || d.GID != 0 {
			t.Errorf("%s: %+v, want a char device 0666 owned by root",
				d.Path, d)
		}
		got[d.Path] = [2]int64{d.Major, d.Minor}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultDevices = %v, want %v", got, want)
	}
	// Callers may change what they get.
	DefaultDevices()[0].Path = "/changed"
	if DefaultDevices()[0].Path == "/changed" {
		t.Error("DefaultDevices returns shared values")
	}
}

// TestUserNamespace runs MountAll in a user namespace whose mounts came
// from a more privileged one, so the kernel locks their flags and refuses
// mknod(2). Stage "ns" prepares a read-only, nosuid, nodev, noexec source
// mount; stage "userns" is the container.
func TestUserNamespace(t *testing.T) {
	dir, rootfs := prepare(t, func(dir, _ string) {
		mkdirs(t, filepath.Join(dir, "src"))
	})
	src := filepath.Join(dir, "src")
	const srcFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV |
		unix.MS_NOEXEC
	switch stage(t) {
	case "":
		spawn(t, "ns", dir, unix.CLONE_NEWNS)
	case "ns":
		isolateMounts(t)
		mustMount(t, src, src, "", unix.MS_BIND, "")
		mustMount(t, "", src, "", unix.MS_BIND|unix.MS_REMOUNT|srcFlags, "")
		spawn(t, "userns", dir, unix.CLONE_NEWUSER|unix.CLONE_NEWNS)
	case "userns":
		userNSStage(t, rootfs, src)
	}
}

func userNSStage(t *testing.T, rootfs, src string) {
	if !runningInUserNS() {
		t.Fatal("runningInUserNS is false in a user namespace")
	}
	cfg := &configs.Config{Rootfs: rootfs,
		Namespaces: configs.Namespaces{{Type: configs.NEWUSER},
			{Type: configs.NEWNS}},
		Mounts: []*configs.Mount{
			{Source: "tmpfs", Destination: "/dev", Device: "tmpfs"},
			// Asks for nosuid only: the remount that would clear the
			// other flags is refused, the retry keeps them.
			{Source: src, Destination: "/keep", Device: "bind",
				Flags: unix.MS_BIND | unix.MS_NOSUID},
		},
		Devices: DefaultDevices(),
	}
	if err := MountAll(cfg); err != nil {
		t.Fatalf("MountAll: %v", err)
	}
	m := mountAt(t, filepath.Join(rootfs, "keep"))
	if m == nil {
		t.Fatal("no mount on /keep")
	}
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		if !hasOption(m.options, o) {
			t.Errorf("/keep options %q lack locked %q", m.options, o)
		}
	}

	// mknod(2) is refused here: the nodes are bind mounts of the host's.
	null := filepath.Join(rootfs, "dev/null")
	wantCharDev(t, null, 1, 3, 0)
	if mountAt(t, null) == nil {
		t.Errorf("%s is not a bind mount of the host's node", null)
	}

	// Asking to clear a locked flag cannot be honoured.
	cfg.Mounts = []*configs.Mount{
		{Source: src, Destination: "/rw", Device: "bind",
			Flags: unix.MS_BIND, ClearedFlags: unix.MS_RDONLY},
	}
	cfg.Devices = nil
	if err := MountAll(cfg); err == nil {
		t.Error("MountAll made a bind of a locked read-only mount writable")
	}
	if _, err := os.Stat(rootfs); err != nil {
		t.Fatal(err)
	}
}

// TestReadonlyRootKeepsLockedFlags: in a user namespace the rootfs comes
// from a nosuid,nodev mount, flags the kernel locks; making the root
// read-only must keep them rather than fail.
func TestReadonlyRootKeepsLockedFlags(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	switch stage(t) {
	case "":
		spawn(t, "ns", dir, unix.CLONE_NEWNS)
	case "ns":
		isolateMounts(t)
		mustMount(t, rootfs, rootfs, "", unix.MS_BIND, "")
		mustMount(t, "", rootfs, "", unix.MS_BIND|unix.MS_REMOUNT|
			unix.MS_NOSUID|unix.MS_NODEV, "")
		spawn(t, "userns", dir, unix.CLONE_NEWUSER|unix.CLONE_NEWNS)
	case "userns":
		cfg := &configs.Config{Rootfs: rootfs, Readonlyfs: true,
			Namespaces: configs.Namespaces{{Type: configs.NEWUSER},
				{Type: configs.NEWNS}},
			Mounts: []*configs.Mount{
				{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs"},
			},
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
		wantErrno(t, "write to the read-only root",
			os.WriteFile("/x", nil, 0o644), unix.EROFS)
		var st unix.Statfs_t
		if err := unix.Statfs("/", &st); err != nil {
			t.Fatal(err)
		}
		want := int64(unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV)
		if st.Flags&want != want {
			t.Errorf("root flags %#x, want ro,nosuid,nodev", st.Flags)
		}
	}
}
