package dmz

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests run this test binary again as a helper, selected by
// envHelper, to look at OpenSelf from a process that is a sealed memfd
// or has no mount rights, and to exec through the stub.
const envHelper = "TOWEL_DMZ_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(envHelper) {
	case "":
		os.Exit(m.Run())
	case "openself":
		helperOpenSelf()
	case "stub":
		helperStub(os.Args[1], os.Args[2:])
	}
	os.Exit(3)
}

// helperOpenSelf prints the kind OpenSelf chose and the errno with which
// writing to the result failed: at open(2) (EROFS, ETXTBSY) or at
// write(2) (EPERM for a sealed memfd); 0 if the write went through.
func helperOpenSelf() {
	exe, err := OpenSelf()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer exe.Close()
	path := "/proc/self/exe"
	if exe.File != nil {
		path = "/proc/self/fd/" + strconv.Itoa(int(exe.File.Fd()))
	}
	f, werr := os.OpenFile(path, os.O_WRONLY, 0)
	if werr == nil {
		_, werr = f.Write([]byte{0})
		f.Close()
	}
	var errno syscall.Errno
	errors.As(werr, &errno)
	fmt.Printf("%s|%d\n", exe.Kind, int(errno))
	os.Exit(0)
}

func helperStub(path string, argv []string) {
	stub, err := NewStub()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	err = stub.Exec(path, argv, []string{"TOWEL_STUB_TEST=1"})
	fmt.Println("error:", err)
	os.Exit(1)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// runHelper runs this test binary, or the file f if not nil, in helper
// mode and returns its output.
func runHelper(t *testing.T, mode string, f *os.File, attr *syscall.SysProcAttr,
	args ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Args[0] = "dmz.test"
	if f != nil {
		cmd.ExtraFiles = []*os.File{f}
		cmd.Path = "/proc/self/fd/3"
	}
	cmd.Env = []string{envHelper + "=" + mode}
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper %s: %v: %s", mode, err, out)
	}
	return strings.TrimSpace(string(out))
}

func countOverlayMounts(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), " - overlay ")
}

func TestOpenSelfGivesAReadOnlyOverlayAndMountsNothing(t *testing.T) {
	requireRoot(t)
	before := countOverlayMounts(t)
	exe, err := OpenSelf()
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	if exe.Kind != KindOverlay {
		t.Skipf("no overlay here (%v): the fallback is tested below",
			exe.OverlayErr)
	}
	if after := countOverlayMounts(t); after != before {
		t.Errorf("overlay mounts went from %d to %d: the mount is attached",
			before, after)
	}
	path := "/proc/self/fd/" + strconv.Itoa(int(exe.File.Fd()))
	_, err = os.OpenFile(path, os.O_WRONLY, 0)
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("open for writing: %v, want EROFS", err)
	}
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	if same, err := sameFile(exe.File, self); err != nil || !same {
		t.Errorf("overlay file is not the running binary (%v)", err)
	}
	// It can be exec'd, which is the point; a process started from it
	// finds its binary on a detached mount and makes a copy.
	out := runHelper(t, "openself", exe.File, nil)
	if !strings.HasSuffix(out, fmt.Sprintf("|%d", int(unix.EPERM))) {
		t.Errorf("binary exec'd from the overlay says %q", out)
	}
}

// TestOpenSelfFallsBackToASealedCopy runs the helper in a user namespace,
// where the overlay cannot be mounted (the mount namespace belongs to the
// initial user namespace).
func TestOpenSelfFallsBackToASealedCopy(t *testing.T) {
	requireRoot(t)
	attr := &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	out := runHelper(t, "openself", nil, attr)
	want := fmt.Sprintf("%s|%d", KindMemfd, int(unix.EPERM))
	if out != want {
		t.Errorf("in a user namespace: %q, want %q", out, want)
	}
}

func TestOpenSelfUsesASealedBinaryAsIs(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	memfd, err := CopySealed(self, "dmz.test")
	if err != nil {
		t.Fatal(err)
	}
	defer memfd.Close()
	out := runHelper(t, "openself", memfd, nil)
	// Open for writing fails as the file is being executed.
	want := fmt.Sprintf("%s|%d", KindSealedSelf, int(unix.ETXTBSY))
	if out != want {
		t.Errorf("from a sealed memfd: %q, want %q", out, want)
	}
}

func TestCopySealedCannotBeChanged(t *testing.T) {
	memfd, err := CopySealed("/bin/true", "true")
	if err != nil {
		t.Fatal(err)
	}
	defer memfd.Close()
	if !IsSealed(memfd) {
		t.Fatal("copy is not sealed")
	}
	if _, err := memfd.WriteAt([]byte("x"), 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("write: %v, want EPERM", err)
	}
	if err := memfd.Truncate(0); !errors.Is(err, unix.EPERM) {
		t.Errorf("truncate: %v, want EPERM", err)
	}
	_, err = unix.FcntlInt(memfd.Fd(), unix.F_ADD_SEALS, 0)
	if !errors.Is(err, unix.EPERM) {
		t.Errorf("more seals: %v, want EPERM (F_SEAL_SEAL)", err)
	}
	if f, _ := os.Open("/bin/true"); f != nil {
		defer f.Close()
		if IsSealed(f) {
			t.Error("a plain file counts as sealed")
		}
	}
}

func requireStub(t *testing.T) {
	t.Helper()
	if !HasStub() {
		t.Skip("the dmz stub is built by make; this test binary has none")
	}
}

func TestStubExecsTheProgramWithItsArgv(t *testing.T) {
	requireStub(t)
	out := runHelper(t, "stub", nil, nil, "/bin/sh", "custom-argv0", "-c",
		`printf "%s|" "$0" "$1" "$TOWEL_STUB_TEST"; head -c 12 /proc/$$/cmdline`,
		"zero", "one")
	if out != "zero|one|1|custom-argv0" {
		t.Errorf("through the stub: %q", out)
	}
}

func TestStubReportsAMissingProgram(t *testing.T) {
	requireStub(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "/does/not/exist", "x")
	cmd.Env = []string{envHelper + "=stub"}
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 127 {
		t.Errorf("missing program: %v, want exit status 127", err)
	}
	if !strings.Contains(string(out), "/does/not/exist: error 2") {
		t.Errorf("message: %q", out)
	}
}

func TestStubIsSmallSealedAndExecutable(t *testing.T) {
	requireStub(t)
	if n := len(stubBinary()); n > 16<<10 {
		t.Errorf("stub is %d bytes", n)
	}
	stub, err := NewStub()
	if err != nil {
		t.Fatal(err)
	}
	defer stub.Close()
	if !IsSealed(stub.file) {
		t.Error("stub memfd is not sealed")
	}
	if err := stub.CheckExec(); err != nil {
		t.Error(err)
	}
}

func BenchmarkOpenSelf(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for the overlay")
	}
	for b.Loop() {
		exe, err := OpenSelf()
		if err != nil {
			b.Fatal(err)
		}
		// As towel does once init runs.
		exe.ReleaseMounts()
		exe.Close()
	}
}

func BenchmarkSealedCopyOfSelf(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f, err := CopySealed(self, "bench")
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
