package specconv

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// namespaceTypes lists the namespace types of spec in order.
func namespaceTypes(spec *specs.Spec) []specs.LinuxNamespaceType {
	var types []specs.LinuxNamespaceType
	for _, ns := range spec.Linux.Namespaces {
		types = append(types, ns.Type)
	}
	return types
}

func TestExampleIsRunc12Spec(t *testing.T) {
	spec := Example()

	if spec.Version != "1.2.0" {
		t.Errorf("ociVersion = %q, want 1.2.0", spec.Version)
	}
	if spec.Root == nil || spec.Root.Path != "rootfs" || !spec.Root.Readonly {
		t.Errorf("root = %+v, want read-only rootfs", spec.Root)
	}
	if spec.Hostname != "runc" {
		t.Errorf("hostname = %q, want runc", spec.Hostname)
	}

	p := spec.Process
	if !p.Terminal || p.Cwd != "/" || !p.NoNewPrivileges {
		t.Errorf("process terminal/cwd/noNewPrivileges = %v/%q/%v",
			p.Terminal, p.Cwd, p.NoNewPrivileges)
	}
	if p.User.UID != 0 || p.User.GID != 0 {
		t.Errorf("user = %+v, want 0:0", p.User)
	}
	if !reflect.DeepEqual(p.Args, []string{"sh"}) {
		t.Errorf("args = %q, want [sh]", p.Args)
	}
	wantEnv := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"TERM=xterm",
	}
	if !reflect.DeepEqual(p.Env, wantEnv) {
		t.Errorf("env = %q, want %q", p.Env, wantEnv)
	}
	wantRlimits := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024},
	}
	if !reflect.DeepEqual(p.Rlimits, wantRlimits) {
		t.Errorf("rlimits = %+v, want %+v", p.Rlimits, wantRlimits)
	}

	wantMasked := []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
	}
	if !reflect.DeepEqual(spec.Linux.MaskedPaths, wantMasked) {
		t.Errorf("maskedPaths = %q, want %q",
			spec.Linux.MaskedPaths, wantMasked)
	}
	wantRO := []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
		"/proc/sysrq-trigger",
	}
	if !reflect.DeepEqual(spec.Linux.ReadonlyPaths, wantRO) {
		t.Errorf("readonlyPaths = %q, want %q",
			spec.Linux.ReadonlyPaths, wantRO)
	}

	wantDevices := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	if spec.Linux.Resources == nil ||
		!reflect.DeepEqual(spec.Linux.Resources.Devices, wantDevices) {
		t.Errorf("resources = %+v, want deny-all devices",
			spec.Linux.Resources)
	}
}

func TestExampleCapabilitiesHaveNoInheritableOrAmbient(t *testing.T) {
	caps := Example().Process.Capabilities
	want := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

	for name, got := range map[string][]string{
		"bounding":  caps.Bounding,
		"effective": caps.Effective,
		"permitted": caps.Permitted,
	} {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if caps.Inheritable != nil || caps.Ambient != nil {
		t.Errorf("inheritable = %q, ambient = %q, want both absent",
			caps.Inheritable, caps.Ambient)
	}

	// Absent, not empty: the JSON must not carry the keys at all.
	b, err := json.Marshal(caps)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, "inheritable") ||
		strings.Contains(s, "ambient") {
		t.Errorf("capabilities JSON %s has inheritable or ambient", s)
	}
}

func TestExampleMounts(t *testing.T) {
	want := []struct {
		dest, typ, source, options string
	}{
		{"/proc", "proc", "proc", ""},
		{"/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"},
		{"/dev/pts", "devpts", "devpts",
			"nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"},
		{"/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"},
		{"/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"},
		{"/sys/fs/cgroup", "cgroup", "cgroup",
			"nosuid,noexec,nodev,relatime,ro"},
	}

	mounts := Example().Mounts
	if len(mounts) != len(want) {
		t.Fatalf("got %d mounts, want %d", len(mounts), len(want))
	}
	for i, w := range want {
		m := mounts[i]
		got := strings.Join(m.Options, ",")
		if m.Destination != w.dest || m.Type != w.typ ||
			m.Source != w.source || got != w.options {
			t.Errorf("mount %d = %s %s %s %q, want %s %s %s %q", i,
				m.Destination, m.Type, m.Source, got,
				w.dest, w.typ, w.source, w.options)
		}
	}
}

func TestExampleNamespacesFollowCgroupMode(t *testing.T) {
	want := []specs.LinuxNamespaceType{
		specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.MountNamespace,
	}
	if cgroup2Unified() {
		want = append(want, specs.CgroupNamespace)
	}

	got := namespaceTypes(Example())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("namespaces = %q, want %q", got, want)
	}
	for _, ns := range Example().Linux.Namespaces {
		if ns.Path != "" {
			t.Errorf("namespace %s has path %q, want none", ns.Type, ns.Path)
		}
	}
}

func TestExampleReturnsIndependentCopies(t *testing.T) {
	a, b := Example(), Example()
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[1].Options[0] = "suid"

	if b.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" {
		t.Error("changing one example's capabilities changed another's")
	}
	if b.Process.Capabilities.Effective[0] != "CAP_AUDIT_WRITE" {
		t.Error("bounding and effective share one slice")
	}
	if b.Mounts[1].Options[0] != "nosuid" {
		t.Error("changing one example's mounts changed another's")
	}
}

func TestToRootless(t *testing.T) {
	spec := Example()
	// A user namespace already present must not be listed twice.
	spec.Linux.Namespaces = append(spec.Linux.Namespaces,
		specs.LinuxNamespace{Type: specs.UserNamespace})
	ToRootless(spec)

	var users int
	for _, ns := range spec.Linux.Namespaces {
		switch ns.Type {
		case specs.NetworkNamespace:
			t.Error("rootless spec keeps the network namespace")
		case specs.UserNamespace:
			users++
		}
	}
	if users != 1 {
		t.Errorf("rootless spec has %d user namespaces, want 1", users)
	}

	wantUID := []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1},
	}
	wantGID := []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1},
	}
	if !reflect.DeepEqual(spec.Linux.UIDMappings, wantUID) {
		t.Errorf("uidMappings = %+v, want %+v",
			spec.Linux.UIDMappings, wantUID)
	}
	if !reflect.DeepEqual(spec.Linux.GIDMappings, wantGID) {
		t.Errorf("gidMappings = %+v, want %+v",
			spec.Linux.GIDMappings, wantGID)
	}

	if spec.Linux.Resources != nil {
		t.Errorf("rootless spec keeps resources %+v", spec.Linux.Resources)
	}

	if len(spec.Mounts) != len(Example().Mounts) {
		t.Errorf("rootless spec has %d mounts, want %d",
			len(spec.Mounts), len(Example().Mounts))
	}
	for _, m := range spec.Mounts {
		for _, o := range m.Options {
			if strings.HasPrefix(o, "uid=") || strings.HasPrefix(o, "gid=") {
				t.Errorf("mount %s keeps option %s", m.Destination, o)
			}
		}
		if m.Destination != "/sys" {
			continue
		}
		want := specs.Mount{
			Destination: "/sys", Type: "none", Source: "/sys",
			Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"},
		}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("/sys mount = %+v, want %+v", m, want)
		}
	}
}

func TestToRootlessKeepsOtherNamespaceOrder(t *testing.T) {
	spec := Example()
	ToRootless(spec)

	want := []specs.LinuxNamespaceType{
		specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace,
		specs.MountNamespace,
	}
	if cgroup2Unified() {
		want = append(want, specs.CgroupNamespace)
	}
	want = append(want, specs.UserNamespace)

	if got := namespaceTypes(spec); !reflect.DeepEqual(got, want) {
		t.Errorf("namespaces = %q, want %q", got, want)
	}
}
