package criu

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v6/rpc"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

func TestParseCgroupMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want rpc.CriuCgMode
		bad  bool
	}{
		{in: "", want: rpc.CriuCgMode_DEFAULT},
		{in: "soft", want: rpc.CriuCgMode_SOFT},
		{in: "full", want: rpc.CriuCgMode_FULL},
		{in: "strict", want: rpc.CriuCgMode_STRICT},
		{in: "ignore", want: rpc.CriuCgMode_IGNORE},
		{in: "props", bad: true},
		{in: "Soft", bad: true},
	} {
		got, err := ParseCgroupMode(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseCgroupMode(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCgroupMode(%q) = %v, %v; want %v", tc.in, got,
				err, tc.want)
		}
	}
}

func TestParsePageServer(t *testing.T) {
	ps, err := ParsePageServer("127.0.0.1:27277")
	if err != nil || ps.GetAddress() != "127.0.0.1" || ps.GetPort() != 27277 {
		t.Fatalf("ParsePageServer = %v, %v", ps, err)
	}
	for _, bad := range []string{"127.0.0.1", ":80", "host:", "host:x",
		"host:70000", "host:0"} {
		if _, err := ParsePageServer(bad); err == nil {
			t.Errorf("ParsePageServer(%q) accepted", bad)
		}
	}
}

// testConfig is a container with a bind mount whose destination goes
// through a symlink in the rootfs, a cgroup mount, a masked file and a
// device.
func testConfig(t *testing.T) *configs.Config {
	rootfs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(rootfs, "real/data"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An absolute link: resolved inside the rootfs, never on the host.
	if err := os.Symlink("/real", filepath.Join(rootfs, "link")); err != nil {
		t.Fatal(err)
	}
	return &configs.Config{
		Rootfs: rootfs,
		Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc"},
			{Source: "/srv/data", Destination: "/link/data", Device: "bind",
				Flags: unix.MS_BIND},
			{Source: "cgroup", Destination: "/sys/fs/cgroup", Device: "cgroup"},
		},
		MaskedPaths: []string{"/proc/kcore", "/proc/acpi"},
		Devices: []*configs.Device{
			{Path: "/dev/fuse", Type: 'c', Major: 10, Minor: 229},
		},
		Namespaces: configs.Namespaces{{Type: configs.NEWPID},
			{Type: configs.NEWNS}},
	}
}

// extMap flattens external mount entries to "KEY=VAL".
func extMap(ext []*rpc.ExtMountMap) []string {
	var list []string
	for _, e := range ext {
		list = append(list, e.GetKey()+"="+e.GetVal())
	}
	return list
}

func TestDumpOptsDeclareExternalMounts(t *testing.T) {
	cfg := testConfig(t)
	env := &dumpEnv{imagesFd: 7, workFd: -1,
		cgroupMounts: []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory"},
		maskedFiles:  []string{"/proc/kcore"}}
	opts := dumpOpts(&Target{Config: cfg, InitPid: 99}, &Options{}, env)

	want := []string{
		// The bind mount by the path it has in the container.
		"/real/data=/real/data",
		"/sys/fs/cgroup/cpu=/sys/fs/cgroup/cpu",
		"/sys/fs/cgroup/memory=/sys/fs/cgroup/memory",
		"/proc/kcore=/dev/null",
		"/dev/fuse=/dev/fuse",
	}
	if got := extMap(opts.ExtMnt); !reflect.DeepEqual(got, want) {
		t.Fatalf("dump external mounts\n got %q\nwant %q", got, want)
	}
	if opts.GetPid() != 99 || opts.GetRoot() != cfg.Rootfs ||
		opts.GetImagesDirFd() != 7 || opts.WorkDirFd != nil {
		t.Fatalf("pid, root or dirs wrong: %v", opts)
	}
}

func TestDumpOptsCarryTheUsersChoices(t *testing.T) {
	cfg := testConfig(t)
	o := &Options{
		LeaveRunning: true, TCPEstablished: true, ExtUnixSk: true,
		ShellJob: true, FileLocks: true, AutoDedup: true,
		ParentPath: "../parent", PageServer: "10.0.0.1:1234",
		CgroupMode: rpc.CriuCgMode_IGNORE, EmptyNs: unix.CLONE_NEWNET,
	}
	env := &dumpEnv{imagesFd: 7, workFd: 8,
		external: []string{"net[4026531840]:extRootNetNS"}}
	opts := dumpOpts(&Target{Config: cfg, InitPid: 1,
		FreezerCgroup: "/sys/fs/cgroup/freezer/ct"}, o, env)

	if !opts.GetLeaveRunning() || !opts.GetTcpEstablished() ||
		!opts.GetExtUnixSk() || !opts.GetShellJob() ||
		!opts.GetFileLocks() || !opts.GetAutoDedup() {
		t.Errorf("flags not passed on: %v", opts)
	}
	if opts.GetParentImg() != "../parent" || !opts.GetTrackMem() {
		t.Errorf("parent image %q, track mem %v", opts.GetParentImg(),
			opts.GetTrackMem())
	}
	if ps := opts.GetPs(); ps.GetAddress() != "10.0.0.1" || ps.GetPort() != 1234 {
		t.Errorf("page server %v", ps)
	}
	// ignore is zero in criu's enum: it must still be sent.
	if opts.ManageCgroupsMode == nil ||
		*opts.ManageCgroupsMode != rpc.CriuCgMode_IGNORE {
		t.Errorf("cgroup mode %v, want IGNORE sent", opts.ManageCgroupsMode)
	}
	if opts.GetEmptyNs() != unix.CLONE_NEWNET {
		t.Errorf("empty ns %#x", opts.GetEmptyNs())
	}
	if opts.GetFreezeCgroup() != "/sys/fs/cgroup/freezer/ct" {
		t.Errorf("freeze cgroup %q", opts.GetFreezeCgroup())
	}
	if opts.GetWorkDirFd() != 8 {
		t.Errorf("work dir fd %d", opts.GetWorkDirFd())
	}
	if !reflect.DeepEqual(opts.External, env.external) {
		t.Errorf("external %q", opts.External)
	}
	if !opts.GetOrphanPtsMaster() || !opts.GetNotifyScripts() ||
		opts.GetLogFile() != "dump.log" {
		t.Errorf("fixed options wrong: %v", opts)
	}
}

func TestPreDumpDeclaresNoMounts(t *testing.T) {
	env := &dumpEnv{imagesFd: 7, workFd: -1}
	opts := dumpOpts(&Target{Config: testConfig(t), InitPid: 1},
		&Options{PreDump: true}, env)
	if len(opts.ExtMnt) != 0 {
		t.Fatalf("pre-dump external mounts %q", extMap(opts.ExtMnt))
	}
}

func TestConfigFileFollowsAnnotation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        *string
	}{
		{"default", nil, ptr("/etc/criu/runc.conf")},
		{"annotated", map[string]string{configAnnotation: "/x.conf"},
			ptr("/x.conf")},
		{"disabled", map[string]string{configAnnotation: ""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Annotations = tc.annotations
			opts := &rpc.CriuOpts{}
			setConfigFile(opts, cfg)
			if !reflect.DeepEqual(opts.ConfigFile, tc.want) {
				t.Fatalf("config file %v, want %v", opts.ConfigFile, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestRestoreExtMountsMapNamesToSources(t *testing.T) {
	cfg := testConfig(t)
	binds := map[string]string{
		"/sys/fs/cgroup/memory": "/sys/fs/cgroup/memory/new",
		"/sys/fs/cgroup/cpu":    "/sys/fs/cgroup/cpu/new",
	}
	want := []string{
		"/real/data=/srv/data",
		"/sys/fs/cgroup/cpu=/sys/fs/cgroup/cpu/new",
		"/sys/fs/cgroup/memory=/sys/fs/cgroup/memory/new",
		"/dev/null=/dev/null",
		"/dev/fuse=/dev/fuse",
	}
	if got := extMap(restoreExtMounts(cfg, binds)); !reflect.DeepEqual(got, want) {
		t.Fatalf("restore external mounts\n got %q\nwant %q", got, want)
	}
}

func TestRestoreOptsCarryTheUsersChoices(t *testing.T) {
	cfg := testConfig(t)
	o := &Options{TCPEstablished: true, LsmProfile: "apparmor:p",
		LsmMountContext: "ctx", CgroupMode: rpc.CriuCgMode_FULL}
	env := &restoreEnv{imagesFd: 5, workFd: -1, root: "/state/criu-root"}
	opts := restoreOpts(cfg, o, env)
	if !opts.GetRstSibling() || !opts.GetEvasiveDevices() ||
		!opts.GetOrphanPtsMaster() || opts.GetRoot() != "/state/criu-root" ||
		opts.GetLogFile() != "restore.log" {
		t.Errorf("fixed options wrong: %v", opts)
	}
	if !opts.GetTcpEstablished() || opts.GetLsmProfile() != "apparmor:p" ||
		opts.GetLsmMountContext() != "ctx" ||
		opts.GetManageCgroupsMode() != rpc.CriuCgMode_FULL {
		t.Errorf("user's options not passed on: %v", opts)
	}
}

func TestInheritStdioTakesOnlyPipes(t *testing.T) {
	dir := t.TempDir()
	err := os.WriteFile(filepath.Join(dir, descriptorsFile),
		[]byte(`["/dev/null","pipe:[1234]","pipe:[1234]"]`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	inherit, err := inheritStdio(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range inherit {
		got = append(got, fmt.Sprintf("%s@%d", in.GetKey(), in.GetFd()))
	}
	want := []string{"pipe:[1234]@1", "pipe:[1234]@2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("inherit %q, want %q", got, want)
	}
}

func TestInheritStdioNamesMissingCheckpoint(t *testing.T) {
	dir := t.TempDir()
	_, err := inheritStdio(dir)
	if err == nil || !strings.Contains(err.Error(), "holds no checkpoint") {
		t.Fatalf("inheritStdio of an empty dir: %v", err)
	}
}

func TestRestoreNamespacesJoinedByPath(t *testing.T) {
	cfg := &configs.Config{Namespaces: configs.Namespaces{
		{Type: configs.NEWNET, Path: "/proc/self/ns/net"},
		{Type: configs.NEWUTS, Path: "/proc/self/ns/uts"},
		{Type: configs.NEWPID},
	}}
	env := &restoreEnv{}
	files, err := env.addNamespaces(cfg)
	for _, f := range files {
		defer f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || len(env.inherit) != 1 ||
		env.inherit[0].GetKey() != "extRootNetNS" ||
		env.inherit[0].GetFd() != firstExtraFd {
		t.Fatalf("network namespace not inherited as extRootNetNS at fd "+
			"%d: %v", firstExtraFd, env.inherit)
	}
	if len(env.joinNs) != 1 || env.joinNs[0].GetNs() != "uts" ||
		env.joinNs[0].GetNsFile() != "/proc/self/ns/uts" {
		t.Fatalf("uts namespace not joined by path: %v", env.joinNs)
	}

	cfg.Namespaces = configs.Namespaces{
		{Type: configs.NEWCGROUP, Path: "/proc/self/ns/cgroup"}}
	if _, err := (&restoreEnv{}).addNamespaces(cfg); err == nil {
		t.Fatal("an existing cgroup namespace was accepted")
	}
}

func TestExternalNamespacesNameInode(t *testing.T) {
	cfg := &configs.Config{Namespaces: configs.Namespaces{
		{Type: configs.NEWNET, Path: "/proc/self/ns/net"},
		{Type: configs.NEWPID},
	}}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	ext, err := externalNamespaces(cfg)
	want := []string{fmt.Sprintf("net[%d]:extRootNetNS", st.Ino)}
	if err != nil || !reflect.DeepEqual(ext, want) {
		t.Fatalf("externalNamespaces = %q, %v; want %q", ext, err, want)
	}
}

func TestCgroupV1BindsFollowRootfsLayout(t *testing.T) {
	hs := []cgroups.Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/",
			Subsystems: []string{"cpu", "cpuacct"}},
		// A hierarchy whose mount shows a sub-cgroup.
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/job",
			Subsystems: []string{"memory"}},
		{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/",
			Subsystems: []string{"name=systemd"}},
		// Not one criu is in: skipped.
		{Mountpoint: "/sys/fs/cgroup/misc", Root: "/",
			Subsystems: []string{"misc"}},
	}
	procCgroup := map[string]string{
		"cpu": "/ct", "cpuacct": "/ct", "memory": "/job/ct",
		"name=systemd": "/ct", "": "/",
	}
	got := cgroupV1Binds(procCgroup, hs, "/sys/fs/cgroup")
	want := map[string]string{
		"/sys/fs/cgroup/cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/ct",
		"/sys/fs/cgroup/memory":      "/sys/fs/cgroup/memory/ct",
		"/sys/fs/cgroup/systemd":     "/sys/fs/cgroup/systemd/ct",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("binds %v, want %v", got, want)
	}
}

func TestMakeMountpointStaysInRootfs(t *testing.T) {
	rootfs := t.TempDir()
	outside := t.TempDir()
	// A link pointing out of the rootfs, absolute and relative.
	if err := os.Symlink(outside, filepath.Join(rootfs, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../"+outside,
		filepath.Join(rootfs, "rel")); err != nil {
		t.Fatal(err)
	}
	root, err := os.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	for _, tc := range []struct {
		dest   string
		isFile bool
	}{
		{"/abs/dir", false},
		{"/rel/file", true},
		{"/plain/a/b", false},
	} {
		h, err := makeMountpoint(root, mountpoint(rootfs, tc.dest),
			tc.isFile)
		if err != nil {
			t.Fatalf("makeMountpoint(%q): %v", tc.dest, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(int(h.Fd()), &st)
		h.Close()
		if err != nil {
			t.Fatal(err)
		}
		isFile := st.Mode&unix.S_IFMT == unix.S_IFREG
		if isFile != tc.isFile {
			t.Errorf("%s: file %v, want %v", tc.dest, isFile, tc.isFile)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("mountpoints were made outside the rootfs: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "plain/a/b")); err != nil {
		t.Fatal(err)
	}
}
