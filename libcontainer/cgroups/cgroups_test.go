package cgroups

import (
	"reflect"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestHierarchiesFromMounts(t *testing.T) {
	infos := []*mountinfo.Info{
		{FSType: "cgroup", Mountpoint: "/sys/fs/cgroup/cpu,cpuacct",
			Root: "/", VFSOptions: "rw,cpu,cpuacct"},
		{FSType: "cgroup", Mountpoint: "/sys/fs/cgroup/systemd", Root: "/",
			VFSOptions: "rw,xattr,release_agent=/x,name=systemd"},
		{FSType: "cgroup", Mountpoint: "/other/cpu", Root: "/",
			VFSOptions: "rw,cpu,cpuacct"}, // same hierarchy again
		{FSType: "cgroup2", Mountpoint: "/sys/fs/cgroup/unified", Root: "/"},
	}
	got := hierarchiesFromMounts(infos)
	want := []Hierarchy{
		{"/sys/fs/cgroup/cpu,cpuacct", "/", []string{"cpu", "cpuacct"}},
		{"/sys/fs/cgroup/systemd", "/", []string{"name=systemd"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestParseProcCgroup(t *testing.T) {
	in := "9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/user.slice\n"
	got, err := ParseProcCgroup(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name=systemd": "/", "memory": "/a/b",
		"cpu": "/c", "cpuacct": "/c", "": "/user.slice"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := ParseProcCgroup(strings.NewReader("garbage\n")); err == nil {
		t.Fatal("bad line: no error")
	}
}

func TestCleanPathStaysInside(t *testing.T) {
	for in, want := range map[string]string{
		"":           "",
		"/a/../../b": "/b",
		"a/../../b":  "b",
		"../..":      ".",
		"/":          "/",
		"a//b/":      "a/b",
	} {
		if got := CleanPath(in); got != want {
			t.Errorf("CleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConversions(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 2: 1, 1024: 39,
		262144: 10000, 1: 1, 1 << 20: 10000} {
		if got := ConvertCPUSharesToWeight(shares); got != want {
			t.Errorf("shares %d -> weight %d, want %d", shares, got, want)
		}
	}
	for w, want := range map[uint64]uint64{0: 0, 10: 1, 1000: 10000,
		500: 4950} {
		if got := ConvertBlkioWeightToIOWeight(w); got != want {
			t.Errorf("blkio weight %d -> io.weight %d, want %d", w, got, want)
		}
	}
	for _, tc := range []struct {
		swap, mem int64
		want      string
		err       bool
	}{
		{0, 0, "", false}, {0, -1, "max", false}, {-1, 100, "max", false},
		{300, 100, "200", false}, {100, 100, "0", false},
		{50, 100, "", true}, {100, 0, "", true}, {100, -1, "", true},
	} {
		got, err := ConvertMemorySwapToV2(tc.swap, tc.mem)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("swap %d mem %d -> %q, %v; want %q (error %v)",
				tc.swap, tc.mem, got, err, tc.want, tc.err)
		}
	}
}

func TestHugePageSizeName(t *testing.T) {
	for bytes, want := range map[uint64]string{2 << 20: "2MB",
		1 << 30: "1GB", 64 << 10: "64KB", 32 << 20: "32MB"} {
		if got := HugePageSizeName(bytes); got != want {
			t.Errorf("%d -> %q, want %q", bytes, got, want)
		}
	}
}

func TestWarningsNameIgnoredFields(t *testing.T) {
	k := int64(1)
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: &k,
		KernelTCP: &k}}
	if w := Warnings(r, false); len(w) != 1 ||
		!strings.Contains(w[0], "memory.kernel") {
		t.Errorf("v1 warnings %q", w)
	}
	if w := Warnings(r, true); len(w) != 2 {
		t.Errorf("v2 warnings %q", w)
	}
}
