package specconv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// bundleWithRootfs makes a bundle directory with an empty rootfs.
func bundleWithRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestConvertRejectsBadConfigs(t *testing.T) {
	bundle := bundleWithRootfs(t)
	for _, tc := range []struct {
		name   string
		change func(*specs.Spec)
		want   string
	}{
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" },
			"cwd property must be an absolute path"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil },
			"args must not be empty"},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "nope" },
			"invalid rootfs"},
		{"no process", func(s *specs.Spec) { s.Process = nil },
			"process must be specified"},
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces,
				specs.LinuxNamespace{Type: "bogus"})
		}, `namespace "bogus" does not exist`},
		{"net sysctl without netns", func(s *specs.Spec) {
			s.Linux.Namespaces = without(s.Linux.Namespaces,
				specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "host network namespace"},
		{"sysctl outside any namespace", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"}
		}, "not in a separate kernel namespace"},
		{"time offsets without time namespace", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
				"monotonic": {Secs: 1}}
		}, "without a time namespace"},
		{"relative hook path", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "x"}}}
		}, "must be absolute"},
		{"user namespace without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces,
				specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "no uid or gid mappings"},
		{"hostname without uts namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = without(s.Linux.Namespaces,
				specs.UTSNamespace)
		}, "hostname"},
		{"soft rlimit above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 5}}
		}, "above the hard limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Example()
			tc.change(s)
			_, err := Convert(s, &Opts{Bundle: bundle, ID: "t"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func without(list []specs.LinuxNamespace,
	t specs.LinuxNamespaceType,
) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range list {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	return out
}

func TestConvertExampleKeepsItsSettings(t *testing.T) {
	bundle := bundleWithRootfs(t)
	s := Example()
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	c, err := Convert(s, &Opts{Bundle: bundle, ID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Rootfs != filepath.Join(bundle, "rootfs") || !c.Readonlyfs {
		t.Fatalf("rootfs %q readonly %v", c.Rootfs, c.Readonlyfs)
	}
	if len(c.Mounts) != len(s.Mounts) {
		t.Fatalf("%d mounts, want %d", len(c.Mounts), len(s.Mounts))
	}
	if c.Cgroup == nil || c.Cgroup.Resources == nil ||
		len(c.Cgroup.Resources.Devices) <= len(s.Linux.Resources.Devices) {
		t.Fatal("the built-in device allow rules were not appended")
	}
	if c.Hostname != "runc" {
		t.Fatalf("hostname %q", c.Hostname)
	}
}
