package userns

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

func idmap(container, host, size int64) configs.IDMap {
	return configs.IDMap{ContainerID: container, HostID: host, Size: size}
}

func TestParseReadsPaddedProcFormat(t *testing.T) {
	in := "         0     100000      65536\n" +
		"     65536       1000          1\n"
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []configs.IDMap{idmap(0, 100000, 65536), idmap(65536, 1000, 1)}
	if !Equal(got, want) {
		t.Fatalf("Parse = %v, want %v", got, want)
	}
	if Format(want) != "0 100000 65536\n65536 1000 1\n" {
		t.Fatalf("Format = %q", Format(want))
	}
}

func TestParseRefusesMalformedLines(t *testing.T) {
	for _, in := range []string{"0 1\n", "0 1 2 3\n", "a 1 2\n",
		"0 -1 2\n", "0 1 4294967296\n"} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("Parse(%q) gave no error", in)
		}
	}
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write arbitrary id maps")
	}
}

// TestNewHasTheMapsAsked makes a namespace with two ranges and reads its
// maps back through a process that joins it.
func TestNewHasTheMapsAsked(t *testing.T) {
	needRoot(t)
	uids := []configs.IDMap{idmap(0, 100000, 1000), idmap(1000, 5000, 1)}
	gids := []configs.IDMap{idmap(0, 200000, 65536)}
	ns, err := New(uids, gids)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	var st unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &self); err != nil {
		t.Fatal(err)
	}
	if st.Ino == self.Ino {
		t.Fatal("New returned our own user namespace")
	}

	// Joining needs a single-threaded process: nsenter(1) does it, on
	// the fd passed as its fd 3.
	c := exec.Command("nsenter", "--user=/proc/self/fd/3", "--", "sh", "-c",
		"cat /proc/self/uid_map; echo --; cat /proc/self/gid_map")
	c.ExtraFiles = []*os.File{ns}
	b, err := c.Output()
	if err != nil {
		t.Fatalf("nsenter into the new namespace: %v", err)
	}
	parts := strings.SplitN(string(b), "--\n", 2)
	if len(parts) != 2 {
		t.Fatalf("nsenter printed %q", b)
	}
	u, err := Parse(strings.NewReader(parts[0]))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(strings.NewReader(parts[1]))
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(u, uids) || !Equal(g, gids) {
		t.Fatalf("maps of the new namespace: %v %v, want %v %v", u, g,
			uids, gids)
	}
}

func TestNewLeavesNoProcess(t *testing.T) {
	needRoot(t)
	before := children(t)
	ns, err := New([]configs.IDMap{idmap(0, 100000, 1)},
		[]configs.IDMap{idmap(0, 100000, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	if after := children(t); after != before {
		t.Fatalf("children of the test: %d before New, %d after",
			before, after)
	}
}

// children counts this process's children, zombies included, over all
// its threads: a child is listed under the thread that started it.
func children(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(files) == 0 {
		t.Skipf("no children files: %v", err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n += len(strings.Fields(string(b)))
	}
	return n
}

func TestMapsOfReadsAProcessNamespace(t *testing.T) {
	needRoot(t)
	uids := []configs.IDMap{idmap(0, 300000, 10)}
	gids := []configs.IDMap{idmap(0, 300000, 10), idmap(10, 400000, 5)}
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: sysMaps(uids),
		GidMappings: sysMaps(gids),
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	nsPath := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/user"

	// Through the pid in the path, and through a bind mount found by
	// scanning /proc.
	bound := t.TempDir() + "/userns"
	if err := os.WriteFile(bound, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(nsPath, bound, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind-mount a namespace: %v", err)
	}
	defer unix.Unmount(bound, unix.MNT_DETACH)

	for _, p := range []string{nsPath, bound} {
		u, g, err := MapsOf(p)
		if err != nil {
			t.Fatalf("MapsOf(%s): %v", p, err)
		}
		if !Equal(u, uids) || !Equal(g, gids) {
			t.Errorf("MapsOf(%s) = %v %v, want %v %v", p, u, g, uids, gids)
		}
	}
}
