// Package cgrouptest has helpers for the cgroup drivers' tests: fake
// cgroup directories, and a re-exec into a private mount namespace that
// has cgroup2 mounted on /sys/fs/cgroup.
package cgrouptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// FakeDir makes a directory holding files with the given contents, as a
// stand-in for a cgroup directory, and returns its path.
func FakeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	WriteFiles(t, dir, files)
	return dir
}

// WriteFiles creates (or truncates) files in dir.
func WriteFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Read returns dir/file with surrounding space trimmed.
func Read(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Expect checks that each file in dir holds the wanted value.
func Expect(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for file, v := range want {
		if got := Read(t, dir, file); got != v {
			t.Errorf("%s = %q, want %q", file, got, v)
		}
	}
}

const inV2Env = "TOWEL_TEST_IN_CGROUP2_NS"

// InCgroup2Namespace reports whether this test process runs in the
// private mount namespace that RunInCgroup2Namespace set up.
func InCgroup2Namespace() bool { return os.Getenv(inV2Env) == "1" }

// RunInCgroup2Namespace re-runs the calling test (t.Name()) in a new
// mount namespace where /sys/fs/cgroup is a fresh cgroup2 mount, and
// reports its result as this test's. The caller returns right after:
//
//	if !cgrouptest.InCgroup2Namespace() {
//		cgrouptest.RunInCgroup2Namespace(t)
//		return
//	}
//
// The test is skipped, with the reason, when that namespace cannot be
// made (no root, no unshare, cgroup2 not mountable).
func RunInCgroup2Namespace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a mount namespace with cgroup2")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare(1) is not installed")
	}
	if out, err := exec.Command(unshare, "-m", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare -m is not possible here: %v: %s", err, out)
	}
	const script = `mount --make-rprivate / &&
umount -l /sys/fs/cgroup &&
mount -t cgroup2 none /sys/fs/cgroup || exit 77
exec "$@"`
	cmd := exec.Command(unshare, "-m", "--", "sh", "-c", script, "sh",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v",
		"-test.count=1")
	cmd.Env = append(os.Environ(), inV2Env+"=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 77 {
		t.Skipf("cannot mount cgroup2 on /sys/fs/cgroup in a new mount "+
			"namespace: %s", out)
	}
	if err != nil {
		t.Fatalf("in cgroup2 namespace: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Skipf("skipped in cgroup2 namespace:\n%s", out)
	}
	t.Logf("in cgroup2 namespace:\n%s", out)
}

// Unwritable makes dir immutable (chattr +i) so that even root gets EPERM
// creating anything in it, as an unprivileged user would in a cgroup not
// delegated to it. The flag is cleared when the test ends. The test is
// skipped when the file system or the caller cannot set the flag.
func Unwritable(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s immutable to fake a permission error: "+
			"%v: %s", dir, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
}
