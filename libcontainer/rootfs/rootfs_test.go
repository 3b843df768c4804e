package rootfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

func statfsType(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatalf("statfs %s: %v", p, err)
	}
	return st.Type
}

func wantCharDev(t *testing.T, p string, major, minor uint32, perm uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Errorf("lstat %s: %v", p, err)
		return
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR ||
		unix.Major(st.Rdev) != major || unix.Minor(st.Rdev) != minor {
		t.Errorf("%s: mode %o rdev %d:%d, want char device %d:%d", p,
			st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), major, minor)
	}
	if perm != 0 && st.Mode&0o7777 != perm {
		t.Errorf("%s: permissions %o, want %o", p, st.Mode&0o7777, perm)
	}
}

func wantLink(t *testing.T, p, target string) {
	t.Helper()
	got, err := os.Readlink(p)
	if err != nil || got != target {
		t.Errorf("readlink %s = %q, %v; want %q", p, got, err, target)
	}
}

func wantErrno(t *testing.T, what string, err error, errno unix.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Errorf("%s: got error %v, want %v", what, err, errno)
	}
}

// TestDefaultSpecRootfs runs the three steps on the mounts, devices and
// paths of the default spec and checks what the container would see.
func TestDefaultSpecRootfs(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		cfg := defaultConfig(rootfs)
		_, kcoreErr := os.Lstat("/proc/kcore")
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		if err := PivotRoot(cfg); err != nil {
			t.Fatalf("PivotRoot: %v", err)
		}
		if err := Finalize(cfg); err != nil {
			t.Fatalf("Finalize: %v", err)
		}

		if wd, _ := os.Getwd(); wd != "/" {
			t.Errorf("cwd after PivotRoot is %q, want /", wd)
		}
		if _, err := os.Stat("/bin/busybox"); err != nil {
			t.Errorf("the new root is not the rootfs: %v", err)
		}
		// The harness gives the stage the host's /dev/null as stdin.
		var stdin, null unix.Stat_t
		if unix.Fstat(0, &stdin) != nil || unix.Stat("/dev/null", &null) !=
			nil || stdin.Dev != null.Dev || stdin.Ino != null.Ino {
			t.Error("stdin was not reopened on the container's /dev/null")
		}
		out, err := exec.Command("/bin/sh", "-c", "echo hello").Output()
		if err != nil || string(out) != "hello\n" {
			t.Errorf("busybox sh in the new root: %q, %v", out, err)
		}

		for p, want := range map[string]int64{
			"/proc":          unix.PROC_SUPER_MAGIC,
			"/sys":           unix.SYSFS_MAGIC,
			"/dev":           unix.TMPFS_MAGIC,
			"/dev/pts":       unix.DEVPTS_SUPER_MAGIC,
			"/dev/shm":       unix.TMPFS_MAGIC,
			"/dev/mqueue":    mqueueMagic,
			"/sys/fs/cgroup": unix.TMPFS_MAGIC,
		} {
			if got := statfsType(t, p); got != want {
				t.Errorf("%s: file system %#x, want %#x", p, got, want)
			}
		}
		if m := mountAt(t, "/dev"); m == nil ||
			!hasOption(m.options, "nosuid") || hasOption(m.options, "ro") {
			t.Errorf("/dev mount: %+v, want rw,nosuid", m)
		}
		if m := mountAt(t, "/sys"); m == nil || !hasOption(m.options, "ro") {
			t.Errorf("/sys mount: %+v, want ro", m)
		}
		var shm unix.Stat_t
		if err := unix.Stat("/dev/shm", &shm); err != nil ||
			shm.Mode&0o7777 != 0o1777 {
			t.Errorf("/dev/shm mode %o, %v; want 1777", shm.Mode&0o7777, err)
		}

		wantCharDev(t, "/dev/null", 1, 3, 0o666)
		wantCharDev(t, "/dev/zero", 1, 5, 0o666)
		wantCharDev(t, "/dev/full", 1, 7, 0o666)
		wantCharDev(t, "/dev/random", 1, 8, 0o666)
		wantCharDev(t, "/dev/urandom", 1, 9, 0o666)
		wantCharDev(t, "/dev/tty", 5, 0, 0o666)
		wantLink(t, "/dev/ptmx", "pts/ptmx")
		wantLink(t, "/dev/fd", "/proc/self/fd")
		wantLink(t, "/dev/stdin", "/proc/self/fd/0")
		wantLink(t, "/dev/stdout", "/proc/self/fd/1")
		wantLink(t, "/dev/stderr", "/proc/self/fd/2")
		if kcoreErr == nil {
			wantLink(t, "/dev/core", "/proc/kcore")
		} else if _, err := os.Lstat("/dev/core"); err == nil {
			t.Error("/dev/core exists though the kernel has no /proc/kcore")
		}

		wantErrno(t, "write to read-only root",
			os.WriteFile("/newfile", nil, 0o644), unix.EROFS)
		if err := os.WriteFile("/dev/shm/x", []byte("x"), 0o644); err != nil {
			t.Errorf("/dev/shm must stay writable: %v", err)
		}

		// readonlyPaths
		wantErrno(t, "write to /proc/sys",
			os.WriteFile("/proc/sys/kernel/domainname", []byte("x"), 0),
			unix.EROFS)
		if m := mountAt(t, "/proc/sys"); m == nil ||
			!hasOption(m.options, "ro") {
			t.Errorf("/proc/sys mount: %+v, want ro", m)
		}
		// maskedPaths: files get /dev/null, directories an empty tmpfs.
		if kcoreErr == nil {
			wantCharDev(t, "/proc/kcore", 1, 3, 0)
		}
		wantCharDev(t, "/proc/keys", 1, 3, 0)
		if _, err := os.Stat("/sys/firmware"); err == nil {
			if got := statfsType(t, "/sys/firmware"); got != unix.TMPFS_MAGIC {
				t.Errorf("/sys/firmware not masked: file system %#x", got)
			}
			entries, _ := os.ReadDir("/sys/firmware")
			if len(entries) != 0 {
				t.Errorf("/sys/firmware is not empty: %v", entries)
			}
			wantErrno(t, "write to masked /sys/firmware",
				os.WriteFile("/sys/firmware/x", nil, 0o644), unix.EROFS)
		}

		// The container's own cgroups: v1 on this kind of host.
		if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
			if got := statfsType(t, "/sys/fs/cgroup/memory"); got !=
				unix.CGROUP_SUPER_MAGIC {
				t.Errorf("/sys/fs/cgroup/memory: file system %#x", got)
			}
			procs, err := os.ReadFile("/sys/fs/cgroup/memory/cgroup.procs")
			if err != nil || !containsLine(string(procs),
				strconv.Itoa(os.Getpid())) {
				t.Errorf("/sys/fs/cgroup/memory is not our own cgroup: %v",
					err)
			}
			wantErrno(t, "write to read-only cgroup",
				os.Mkdir("/sys/fs/cgroup/memory/sub", 0o755), unix.EROFS)
		}
	})
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestMountAllMakesRootSlave checks that mounts stop propagating between
// the container and the namespace it was created from: "/" becomes a
// recursive slave. Stage "ns" plays the host with a shared "/"; stage
// "inner" is the container's new mount namespace, a peer of it.
func TestMountAllMakesRootSlave(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	switch stage(t) {
	case "":
		spawn(t, "ns", dir, unix.CLONE_NEWNS)
	case "ns":
		isolateMounts(t)
		err := unix.Mount("", "/", "", unix.MS_SHARED|unix.MS_REC, "")
		if err != nil {
			t.Fatal(err)
		}
		spawn(t, "inner", dir, unix.CLONE_NEWNS)
		if m := mountAt(t, rootfs); m != nil {
			t.Errorf("the container's rootfs mount reached the parent: %+v",
				m)
		}
	case "inner":
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs"},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		m := mountAt(t, rootfs)
		if m == nil {
			t.Fatal("rootfs is not a mount point after MountAll")
		}
		if strings.Contains(m.optional, "shared:") {
			t.Errorf("rootfs mount is shared: %q", m.optional)
		}
		if root := mountAt(t, "/"); !strings.Contains(root.optional,
			"master:") {
			t.Errorf("/ is not a slave: %q", root.optional)
		}
	}
}

// TestRootPropagationShared checks rootfsPropagation "rshared": the
// parent of the rootfs is made private so that pivot_root works, and the
// new root is shared afterwards.
func TestRootPropagationShared(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs,
			RootPropagation: unix.MS_SHARED | unix.MS_REC,
			Mounts: []*configs.Mount{
				{Source: "proc", Destination: "/proc", Device: "proc"},
			},
		}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		if err := PivotRoot(cfg); err != nil {
			t.Fatalf("PivotRoot: %v", err)
		}
		if root := mountAt(t, "/"); root == nil ||
			!strings.Contains(root.optional, "shared:") {
			t.Errorf("new root is not shared: %+v", root)
		}
	})
}

// TestNoPivotRoot checks the MS_MOVE and chroot path: the rootfs becomes
// "/", and the host's procfs is no longer in the namespace.
func TestNoPivotRoot(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, NoPivotRoot: true,
			Mounts: []*configs.Mount{
				{Source: "proc", Destination: "/proc", Device: "proc"},
			},
		}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		if err := PivotRoot(cfg); err != nil {
			t.Fatalf("PivotRoot: %v", err)
		}
		if _, err := os.Stat("/bin/busybox"); err != nil {
			t.Errorf("the new root is not the rootfs: %v", err)
		}
		if wd, _ := os.Getwd(); wd != "/" {
			t.Errorf("cwd is %q, want /", wd)
		}
		for _, m := range readMountinfo(t) {
			if m.fstype == "proc" && m.mountpoint != "/proc" {
				t.Errorf("a procfs is still mounted at %q", m.mountpoint)
			}
		}
	})
}

// TestPivotRootDetachesOldRoot checks that nothing of the host's mount
// tree stays reachable after pivot_root.
func TestPivotRootDetachesOldRoot(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc"},
		}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		if err := PivotRoot(cfg); err != nil {
			t.Fatalf("PivotRoot: %v", err)
		}
		for _, m := range readMountinfo(t) {
			if m.mountpoint != "/" && m.mountpoint != "/proc" {
				t.Errorf("host mount still visible at %q", m.mountpoint)
			}
		}
		entries, _ := os.ReadDir("/")
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if _, err := os.Stat(filepath.Join("/", "bin", "sh")); err != nil {
			t.Errorf("root holds %v, not the rootfs", names)
		}
	})
}

// TestIDMappedMountWithoutSourceIsRefusedUntouched checks that an
// id-mapped mount whose tree the parent did not prepare makes MountAll
// fail before it changes anything: init cannot id-map a host mount.
func TestIDMappedMountWithoutSourceIsRefusedUntouched(t *testing.T) {
	dir, rootfs := prepare(t, nil)
	inMountNS(t, dir, func(t *testing.T) {
		before := len(readMountinfo(t))
		cfg := &configs.Config{Rootfs: rootfs, Mounts: []*configs.Mount{
			{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs"},
			{Source: dir, Destination: "/mnt", Device: "bind",
				Flags:     unix.MS_BIND,
				IDMapping: &configs.MountIDMapping{}},
		}}
		err := MountAll(cfg)
		if err == nil || !strings.Contains(err.Error(), "id-mapped") {
			t.Fatalf("MountAll = %v, want an error about the id-mapped "+
				"mount", err)
		}
		if after := len(readMountinfo(t)); after != before {
			t.Errorf("MountAll changed the mount table: %d -> %d mounts",
				before, after)
		}
	})
}

// mqueueMagic is MQUEUE_MAGIC of <linux/magic.h>, missing in x/sys/unix.
const mqueueMagic = 0x19800202

// TestPivotRootCreatesCwd: a cwd the image lacks is created inside the
// new root, a symlink in the way resolving inside it too.
func TestPivotRootCreatesCwd(t *testing.T) {
	dir, rootfs := prepare(t, func(_, rootfs string) {
		if err := os.Symlink("/", filepath.Join(rootfs, "up")); err != nil {
			t.Fatal(err)
		}
	})
	inMountNS(t, dir, func(t *testing.T) {
		cfg := &configs.Config{Rootfs: rootfs,
			Process: &specs.Process{Cwd: "/up/../work/dir"}}
		if err := MountAll(cfg); err != nil {
			t.Fatalf("MountAll: %v", err)
		}
		if err := PivotRoot(cfg); err != nil {
			t.Fatalf("PivotRoot: %v", err)
		}
		if st, err := os.Stat("/work/dir"); err != nil || !st.IsDir() {
			t.Fatalf("cwd not created in the new root: %v", err)
		}
	})
	if stage(t) == "" {
		if _, err := os.Stat(filepath.Join(rootfs, "work/dir")); err != nil {
			t.Fatalf("cwd not created in the rootfs: %v", err)
		}
	}
}
