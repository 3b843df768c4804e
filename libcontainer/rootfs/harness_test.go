package rootfs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// The tests of this package change the mount table, so they run in
// children of the test binary that live in their own mount namespace (and
// for some a user namespace): the test re-executes itself with -test.run
// set to its own name and an environment naming the stage to run. Stage
// "" is the test process itself, on the host.

const (
	stageEnv = "TOWEL_ROOTFS_TEST_STAGE"
	testEnv  = "TOWEL_ROOTFS_TEST_NAME"
	dirEnv   = "TOWEL_ROOTFS_TEST_DIR"
)

// stage returns the stage this process runs for t.
func stage(t *testing.T) string {
	if os.Getenv(testEnv) != t.Name() {
		return ""
	}
	return os.Getenv(stageEnv)
}

// testDir is the directory the host stage made for the test, or a new one
// on the host stage.
func testDir(t *testing.T) string {
	if stage(t) != "" {
		return os.Getenv(dirEnv)
	}
	return t.TempDir()
}

// runPattern is a -test.run pattern matching exactly the test name, at
// every subtest level.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// spawn runs stage next of t in a child with new namespaces (cloneflags)
// and fails t if the child fails. In a new user namespace, root and the
// first 65536 ids map to themselves, which makes the mounts inherited
// from the parent namespace locked.
func spawn(t *testing.T, next string, dir string, cloneflags uintptr) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create mount namespaces")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()),
		"-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), stageEnv+"="+next, testEnv+"="+t.Name(),
		dirEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneflags}
	if cloneflags&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{
			{ContainerID: 0, HostID: 0, Size: 65536}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{
			{ContainerID: 0, HostID: 0, Size: 65536}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stage %q failed: %v\n%s", next, err, out)
	}
	if testing.Verbose() {
		t.Logf("stage %q:\n%s", next, out)
	}
	if skip := skipReason(out); skip != "" {
		t.Skipf("stage %q skipped: %s", next, skip)
	}
	if !bytes.Contains(out, []byte("--- PASS")) {
		t.Fatalf("stage %q ran no test:\n%s", next, out)
	}
}

// skipReason finds a t.Skip of the child in its -test.v output: the line
// after "--- SKIP".
func skipReason(out []byte) string {
	lines := strings.Split(string(out), "\n")
	for i, line := range lines {
		if !strings.Contains(line, "--- SKIP") {
			continue
		}
		if i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
		return "no reason given"
	}
	return ""
}

// prepare returns the test's directory and rootfs path; on the host stage
// it builds the busybox rootfs and runs setup, if any, before.
func prepare(t *testing.T, setup func(dir, rootfs string)) (dir, rootfs string) {
	t.Helper()
	dir = testDir(t)
	rootfs = filepath.Join(dir, "rootfs")
	if stage(t) == "" {
		buildRootfs(t, dir)
		if setup != nil {
			setup(dir, rootfs)
		}
	}
	return dir, rootfs
}

// inMountNS is the common case: body runs in a child with a new mount
// namespace whose mounts do not propagate back to the host.
func inMountNS(t *testing.T, dir string, body func(t *testing.T)) {
	t.Helper()
	switch stage(t) {
	case "":
		spawn(t, "ns", dir, unix.CLONE_NEWNS)
	case "ns":
		isolateMounts(t)
		body(t)
	}
}

// isolateMounts makes every mount of the child's namespace private: a new
// namespace copies the host's peer groups, and a mount on a shared mount
// would otherwise show up on the host.
func isolateMounts(t *testing.T) {
	t.Helper()
	err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, "")
	if err != nil {
		t.Fatalf("make / rprivate: %v", err)
	}
}

// busyboxApplets get a link to /bin/busybox in the test rootfs.
var busyboxApplets = []string{"sh", "ls", "cat", "echo", "true", "stat",
	"touch", "readlink", "test", "mkdir"}

// buildRootfs makes a small busybox rootfs in dir/rootfs and returns its
// path. It runs on the host stage only.
func buildRootfs(t *testing.T, dir string) string {
	t.Helper()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile("/bin/busybox")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no /bin/busybox (package busybox-static) for the rootfs")
	}
	if err != nil {
		t.Fatal(err)
	}
	err = os.WriteFile(filepath.Join(rootfs, "bin/busybox"), bin, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets {
		err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a))
		if err != nil {
			t.Fatal(err)
		}
	}
	err = os.WriteFile(filepath.Join(rootfs, "etc/hostname"),
		[]byte("towel\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return rootfs
}

// defaultConfig is the mounts, devices and paths of the spec `runc spec`
// writes, for a rootfs at rootfs.
func defaultConfig(rootfs string) *configs.Config {
	const (
		nosuid = unix.MS_NOSUID
		noexec = unix.MS_NOEXEC
		nodev  = unix.MS_NODEV
	)
	return &configs.Config{
		Rootfs:     rootfs,
		Readonlyfs: true,
		Namespaces: configs.Namespaces{
			{Type: configs.NEWPID}, {Type: configs.NEWNS},
			{Type: configs.NEWIPC}, {Type: configs.NEWUTS},
			{Type: configs.NEWNET},
		},
		Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc"},
			{Source: "tmpfs", Destination: "/dev", Device: "tmpfs",
				Flags: nosuid | unix.MS_STRICTATIME,
				Data:  "mode=755,size=65536k"},
			{Source: "devpts", Destination: "/dev/pts", Device: "devpts",
				Flags: nosuid | noexec,
				Data:  "newinstance,ptmxmode=0666,mode=0620,gid=5"},
			{Source: "shm", Destination: "/dev/shm", Device: "tmpfs",
				Flags: nosuid | noexec | nodev, Data: "mode=1777,size=65536k"},
			{Source: "mqueue", Destination: "/dev/mqueue", Device: "mqueue",
				Flags: nosuid | noexec | nodev},
			{Source: "sysfs", Destination: "/sys", Device: "sysfs",
				Flags: nosuid | noexec | nodev | unix.MS_RDONLY},
			{Source: "cgroup", Destination: "/sys/fs/cgroup", Device: "cgroup",
				Flags: nosuid | noexec | nodev | unix.MS_RELATIME |
					unix.MS_RDONLY},
		},
		Devices: DefaultDevices(),
		MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore",
			"/proc/keys", "/proc/latency_stats", "/proc/timer_list",
			"/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
			"/proc/scsi"},
		ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq",
			"/proc/sys", "/proc/sysrq-trigger"},
	}
}

// mountAt returns the last mountinfo entry whose mount point is p.
func mountAt(t *testing.T, p string) *mountEntryInfo {
	t.Helper()
	var found *mountEntryInfo
	for _, m := range readMountinfo(t) {
		if m.mountpoint == p {
			m := m
			found = &m
		}
	}
	return found
}

type mountEntryInfo struct {
	mountpoint, fstype, options, optional string
}

func readMountinfo(t *testing.T) []mountEntryInfo {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var list []mountEntryInfo
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		// (proc(5), /proc/pid/mountinfo)
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			t.Fatalf("bad mountinfo line %q", line)
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		list = append(list, mountEntryInfo{
			mountpoint: unescapeMountinfo(f[4]),
			options:    f[5],
			optional:   strings.Join(f[6:], " "),
			fstype:     g[0],
		})
	}
	return list
}

func unescapeMountinfo(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n",
		`\134`, `\`).Replace(s)
}

// hasOption reports whether a comma-separated option list has o.
func hasOption(options, o string) bool {
	for _, x := range strings.Split(options, ",") {
		if x == o {
			return true
		}
	}
	return false
}
