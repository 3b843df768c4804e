package procfs

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSysctlPath(t *testing.T) {
	tests := []struct{ key, want, err string }{
		{key: "net.ipv4.ip_forward", want: "sys/net/ipv4/ip_forward"},
		{key: "net/ipv4/ip_forward", want: "sys/net/ipv4/ip_forward"},
		{key: "net.ipv4.conf.eth0/100.rp_filter",
			want: "sys/net/ipv4/conf/eth0.100/rp_filter"},
		{key: "net/ipv4/conf/eth0.100/rp_filter",
			want: "sys/net/ipv4/conf/eth0.100/rp_filter"},
		{key: "kernel.shmmax", want: "sys/kernel/shmmax"},
		{key: "kernel..shmmax", err: "not a sysctl name"},
		{key: "../../etc/passwd", err: "not a sysctl name"},
		{key: "net/../../../etc", err: "not a sysctl name"},
		{key: "", err: "not a sysctl name"},
	}
	for _, tt := range tests {
		got, err := SysctlPath(tt.key)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("SysctlPath(%q) = %q, %v; want error %q", tt.key,
					got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("SysctlPath(%q) = %q, %v; want %q", tt.key, got, err,
				tt.want)
		}
	}
}

func TestOpenWantsTheRootOfAProcfs(t *testing.T) {
	for _, p := range []string{os.TempDir(), "/proc/sys", "/proc/self"} {
		h, err := Open(p)
		if err == nil {
			h.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	h, err := Open("/proc")
	if err != nil {
		t.Fatalf("Open(/proc): %v", err)
	}
	h.Close()
}

func TestMagicLinksAreRefused(t *testing.T) {
	h, err := Open("/proc")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, p := range []string{"self/exe", "self/fd/0", "self/root/etc/passwd",
		"self/cwd"} {
		f, err := h.OpenFile(p, unix.O_RDONLY)
		if err == nil {
			f.Close()
			t.Errorf("OpenFile(%q) succeeded", p)
		} else if !errors.Is(err, ErrNotProcfs) {
			t.Errorf("OpenFile(%q) = %v, want ErrNotProcfs", p, err)
		}
	}
}

func TestWritePidAndSelf(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write oom_score_adj")
	}
	h, err := Open("/proc")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("self/oom_score_adj", cur); err != nil {
		t.Errorf("write self/oom_score_adj: %v", err)
	}
	if err := h.WritePid(os.Getpid(), "oom_score_adj", cur); err != nil {
		t.Errorf("write PID/oom_score_adj: %v", err)
	}
}

// inPrivateMountNS runs f on a thread of its own in a new mount namespace
// whose mounts do not propagate back; the thread is thrown away after.
func inPrivateMountNS(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread dies with the goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, "")
		if err != nil {
			t.Errorf("make / private: %v", err)
			return
		}
		f()
	}()
	<-done
}

// TestWritesAcrossAMountAreRefused plays a container that covered part of
// /proc: a host file bind-mounted on a sysctl, and a tmpfs on /proc/sys.
// The write must fail and the host file keep its content.
func TestWritesAcrossAMountAreRefused(t *testing.T) {
	dir := t.TempDir()
	hostFile := filepath.Join(dir, "host-file")
	if err := os.WriteFile(hostFile, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inPrivateMountNS(t, func() {
		err := unix.Mount(hostFile, "/proc/sys/kernel/ns_last_pid", "",
			unix.MS_BIND, "")
		if err != nil {
			t.Errorf("bind host file on ns_last_pid: %v", err)
			return
		}
		h, err := Open("/proc")
		if err != nil {
			t.Error(err)
			return
		}
		defer h.Close()
		err = h.WriteSysctl("kernel.ns_last_pid", "1")
		if !errors.Is(err, ErrNotProcfs) {
			t.Errorf("write through a bind mount: %v, want ErrNotProcfs",
				err)
		}

		// Another procfs file bind-mounted over a sysctl passes any
		// fstatfs check (CVE-2025-52881 sent writes to sysrq-trigger);
		// here the thread's comm stands in for the dangerous file.
		comm := "/proc/thread-self/comm"
		before, _ := os.ReadFile(comm)
		err = unix.Mount(comm, "/proc/sys/kernel/domainname", "",
			unix.MS_BIND, "")
		if err != nil {
			t.Errorf("bind comm on domainname: %v", err)
			return
		}
		err = h.WriteSysctl("kernel.domainname", "redirected")
		if !errors.Is(err, ErrNotProcfs) {
			t.Errorf("write through a procfs bind mount: %v, want "+
				"ErrNotProcfs", err)
		}
		if after, _ := os.ReadFile(comm); string(after) != string(before) {
			t.Errorf("comm changed from %q to %q", before, after)
		}

		if err := unix.Mount("tmpfs", "/proc/sys", "tmpfs", 0, ""); err != nil {
			t.Errorf("mount tmpfs on /proc/sys: %v", err)
			return
		}
		err = os.MkdirAll("/proc/sys/net/ipv4", 0o755)
		if err == nil {
			err = os.WriteFile("/proc/sys/net/ipv4/ip_forward", nil, 0o644)
		}
		if err != nil {
			t.Error(err)
			return
		}
		err = h.WriteSysctl("net.ipv4.ip_forward", "1")
		if !errors.Is(err, ErrNotProcfs) {
			t.Errorf("write under a tmpfs on /proc/sys: %v, want "+
				"ErrNotProcfs", err)
		}
	})
	data, err := os.ReadFile(hostFile)
	if err != nil || string(data) != "host\n" {
		t.Errorf("host file now holds %q (%v)", data, err)
	}
}

// TestProcReplacedByTmpfsIsRefused: a /proc that is not a procfs at all.
func TestProcReplacedByTmpfsIsRefused(t *testing.T) {
	inPrivateMountNS(t, func() {
		if err := unix.Mount("tmpfs", "/proc", "tmpfs", 0, ""); err != nil {
			t.Errorf("mount tmpfs on /proc: %v", err)
			return
		}
		h, err := Open("/proc")
		if err == nil {
			h.Close()
			t.Error("Open accepted a tmpfs as procfs")
		} else if !errors.Is(err, ErrNotProcfs) {
			t.Errorf("Open = %v, want ErrNotProcfs", err)
		}
	})
}

func TestWriteSysctlThroughRealProcfs(t *testing.T) {
	h, err := Open("/proc")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// Reading through the same lookup shows the path is right.
	rel, err := SysctlPath("kernel.pid_max")
	if err != nil {
		t.Fatal(err)
	}
	f, err := h.OpenFile(rel, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open %s: %v", rel, err)
	}
	defer f.Close()
	buf := make([]byte, 32)
	n, _ := f.Read(buf)
	if _, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err != nil {
		t.Errorf("kernel.pid_max reads %q", buf[:n])
	}
}
