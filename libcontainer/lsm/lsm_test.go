package lsm

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/procfs"
)

func openProc(t *testing.T) *procfs.Handle {
	t.Helper()
	h, err := procfs.Open("/proc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestEmptyLabelsDoNothing(t *testing.T) {
	if err := ApplyOnExec(openProc(t), "", ""); err != nil {
		t.Errorf("ApplyOnExec with no labels: %v", err)
	}
	if err := CheckMountLabel(""); err != nil {
		t.Errorf("CheckMountLabel(\"\"): %v", err)
	}
}

func TestLabelsWithoutTheLSMAreErrors(t *testing.T) {
	proc := openProc(t)
	if !AppArmorEnabled() {
		err := ApplyOnExec(proc, "towel-test", "")
		if !errors.Is(err, ErrNotEnabled) {
			t.Errorf("AppArmor profile without AppArmor: %v", err)
		}
	}
	if !SELinuxEnabled() {
		err := ApplyOnExec(proc, "", "system_u:system_r:container_t:s0")
		if !errors.Is(err, ErrNotEnabled) {
			t.Errorf("SELinux label without SELinux: %v", err)
		}
		err = CheckMountLabel("system_u:object_r:container_file_t:s0")
		if !errors.Is(err, ErrNotEnabled) {
			t.Errorf("SELinux mount label without SELinux: %v", err)
		}
	}
	if AppArmorEnabled() && SELinuxEnabled() {
		t.Skip("host runs both LSMs; nothing to refuse")
	}
}

// TestAppArmorAttrBehindAMountIsNotWritten covers the thread's attr
// directory with a tmpfs, as a container with CAP_SYS_ADMIN could before
// an exec joins it (CVE-2019-16884): the profile must not be written to
// the file on the tmpfs, and the error must say why.
func TestAppArmorAttrBehindAMountIsNotWritten(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace")
	}
	enabled := AppArmorEnabled
	AppArmorEnabled = func() bool { return true }
	defer func() { AppArmorEnabled = enabled }()

	fake := filepath.Join(t.TempDir(), "attr")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread is left locked, so it ends with the goroutine and
		// its mount namespace goes with it.
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
		attr := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/attr"
		if err := unix.Mount(fake, attr, "", unix.MS_BIND, ""); err != nil {
			t.Errorf("bind over %s: %v", attr, err)
			return
		}
		for _, f := range []string{"exec", "apparmor/exec"} {
			p := filepath.Join(fake, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Error(err)
				return
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Error(err)
				return
			}
		}
		proc, err := procfs.Open("/proc")
		if err != nil {
			t.Error(err)
			return
		}
		defer proc.Close()
		err = ApplyOnExec(proc, "towel-test", "")
		if !errors.Is(err, procfs.ErrNotProcfs) {
			t.Errorf("ApplyOnExec behind a mount: %v, want ErrNotProcfs", err)
		}
	}()
	<-done
	for _, f := range []string{"exec", "apparmor/exec"} {
		data, err := os.ReadFile(filepath.Join(fake, f))
		if err != nil || len(data) != 0 {
			t.Errorf("%s got %q (%v)", f, data, err)
		}
	}
}
