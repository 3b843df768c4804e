package devices

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups/internal/cgrouptest"
)

func denyAll() specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
}

// allowChar allows a char device; a minor of -1 stands for any.
func allowChar(major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major,
		Access: access}
	if minor != -1 {
		d.Minor = &minor
	}
	return d
}

func mustRules(t *testing.T, in ...specs.LinuxDeviceCgroup) []Rule {
	t.Helper()
	r, err := FromSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDefaultAllowRulesKeepTun(t *testing.T) {
	s := Compute(mustRules(t, append([]specs.LinuxDeviceCgroup{denyAll()},
		DefaultAllowRules()...)...))
	for _, tc := range []struct {
		typ          Type
		major, minor int64
		access       Access
		want         bool
	}{
		{Char, 1, 3, Read | Write, true},    // null
		{Char, 10, 200, Read | Write, true}, // net/tun
		{Char, 136, 7, Read | Write, true},  // pts/7
		{Char, 10, 229, Read, false},        // fuse
		{Char, 10, 229, Mknod, true},        // any mknod
		{Block, 8, 0, Mknod, true},
		{Block, 8, 0, Read, false},
	} {
		if got := s.Allows(tc.typ, tc.major, tc.minor, tc.access); got != tc.want {
			t.Errorf("%c %d:%d %s: allowed=%v, want %v", tc.typ, tc.major,
				tc.minor, tc.access, got, tc.want)
		}
	}
}

func TestComputeFollowsV1Semantics(t *testing.T) {
	s := Compute(mustRules(t,
		allowChar(1, 3, "r"),
		allowChar(1, 3, "w"), // merges into one exception
		specs.LinuxDeviceCgroup{Allow: false, Type: "c",
			Major: ptr(1), Minor: ptr(3), Access: "r"}, // removes r
	))
	want := State{Exceptions: []Rule{{Type: Char, Major: 1, Minor: 3,
		Access: Write, Allow: true}}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	// A later "a" rule resets everything.
	s = Compute(mustRules(t, allowChar(1, 3, "rwm"),
		specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}))
	if !s.DefaultAllow || len(s.Exceptions) != 0 {
		t.Fatalf("allow all: got %+v", s)
	}
}

func ptr(v int64) *int64 { return &v }

func TestFromSpecRejectsBadInput(t *testing.T) {
	for _, d := range []specs.LinuxDeviceCgroup{
		{Type: "x", Access: "rwm"},
		{Type: "c", Access: "rwx"},
		{Type: "c", Major: ptr(-2), Access: "r"},
	} {
		if _, err := FromSpec([]specs.LinuxDeviceCgroup{d}); err == nil {
			t.Errorf("%+v: no error", d)
		}
	}
}

func TestV1WritesOnlyTheDifference(t *testing.T) {
	cur, err := ParseV1List("c 1:3 rwm\nc 1:5 rwm\nc 136:* rw\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Compute(mustRules(t, denyAll(), allowChar(1, 3, "rwm"),
		allowChar(136, -1, "rwm"), allowChar(10, 229, "rw")))
	got := V1Writes(cur, want)
	expect := []V1Write{
		{"devices.deny", "c 1:5 rwm"},
		{"devices.allow", "c 136:* m"},
		{"devices.allow", "c 10:229 rw"},
	}
	if !reflect.DeepEqual(got, expect) {
		t.Fatalf("got %q\nwant %q", got, expect)
	}
}

func TestV1WritesResetFromAllowAll(t *testing.T) {
	cur, err := ParseV1List("a *:* rwm\n")
	if err != nil {
		t.Fatal(err)
	}
	got := V1Writes(cur, Compute(mustRules(t, allowChar(1, 3, "rwm"))))
	expect := []V1Write{
		{"devices.deny", "a"},
		{"devices.allow", "c 1:3 rwm"},
	}
	if !reflect.DeepEqual(got, expect) {
		t.Fatalf("got %q\nwant %q", got, expect)
	}
}

func TestProgramLoadsWithoutRaisingMemlock(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root")
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		t.Fatal(err)
	}
	prog, err := LoadProgram(Compute(mustRules(t, append(
		[]specs.LinuxDeviceCgroup{denyAll()}, DefaultAllowRules()...)...)))
	if err != nil {
		t.Fatalf("load with RLIMIT_MEMLOCK %d: %v", lim.Cur, err)
	}
	prog.Close()
	var after unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &after); err != nil {
		t.Fatal(err)
	}
	if after != lim {
		t.Fatalf("RLIMIT_MEMLOCK changed from %v to %v", lim, after)
	}
}

// canOpen opens path read-write and reports EPERM as false.
func canOpen(t *testing.T, path string) bool {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EPERM) {
		return false
	}
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	unix.Close(fd)
	return true
}

func TestV2FilterDeniesThenAllowsOnUpdate(t *testing.T) {
	if !cgrouptest.InCgroup2Namespace() {
		cgrouptest.RunInCgroup2Namespace(t)
		return
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse to test with")
	}
	dir := filepath.Join("/sys/fs/cgroup",
		fmt.Sprintf("towel-devices-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	t.Cleanup(func() {
		_ = os.WriteFile("/sys/fs/cgroup/cgroup.procs", []byte(self), 0)
		_ = unix.Rmdir(dir)
	})
	// The test process itself goes in, so its own opens are filtered.
	if err := os.WriteFile(dir+"/cgroup.procs", []byte(self), 0); err != nil {
		t.Fatal(err)
	}

	base := append([]specs.LinuxDeviceCgroup{denyAll()},
		DefaultAllowRules()...)
	if err := SetV2(dir, mustRules(t, base...)); err != nil {
		t.Fatal(err)
	}
	if canOpen(t, "/dev/fuse") {
		t.Fatal("/dev/fuse opened under the default rules")
	}
	if !canOpen(t, "/dev/null") {
		t.Fatal("/dev/null refused under the default rules")
	}

	fuse := allowChar(10, 229, "rw")
	if err := SetV2(dir, mustRules(t, append(base, fuse)...)); err != nil {
		t.Fatal(err)
	}
	if !canOpen(t, "/dev/fuse") {
		t.Fatal("/dev/fuse refused after allowing it")
	}

	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	res, err := link.QueryPrograms(link.QueryOptions{
		Target: int(cg.Fd()), Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Programs) != 1 {
		t.Fatalf("%d device programs attached after update, want 1",
			len(res.Programs))
	}
}
