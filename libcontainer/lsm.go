package libcontainer

import (
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"
)

// applyLSM asks the kernel to put the process under its AppArmor profile
// and SELinux label at the coming execve(2). Both act on the calling
// thread, which init keeps locked until it execs. A profile or label on a
// host without that LSM is an error rather than a silent downgrade.
func applyLSM(apparmorProfile, selinuxLabel string) error {
	if apparmorProfile != "" {
		if err := changeProfileOnExec(apparmorProfile); err != nil {
			return err
		}
	}
	if selinuxLabel != "" {
		if !selinux.GetEnabled() {
			return fmt.Errorf("selinux label %q: SELinux is not enabled "+
				"on this host", selinuxLabel)
		}
		if err := selinux.SetExecLabel(selinuxLabel); err != nil {
			return fmt.Errorf("set selinux exec label %q: %w",
				selinuxLabel, err)
		}
	}
	return nil
}

// changeProfileOnExec writes "exec PROFILE" to the thread's AppArmor exec
// attribute (apparmor(7), change_onexec(2) of libapparmor). Kernels since
// 5.1 have a per-LSM attr/apparmor/; older ones only the shared attr/.
func changeProfileOnExec(profile string) error {
	if !apparmorEnabled() {
		return fmt.Errorf("apparmor profile %q: AppArmor is not enabled "+
			"on this host", profile)
	}
	cmd := []byte("exec " + profile)
	var err error
	for _, attr := range []string{
		"/proc/thread-self/attr/apparmor/exec",
		"/proc/thread-self/attr/exec",
	} {
		var f *os.File
		f, err = os.OpenFile(attr, os.O_WRONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			break
		}
		_, err = f.Write(cmd)
		f.Close()
		break
	}
	if err != nil {
		return fmt.Errorf("apply apparmor profile %q: %w", profile, err)
	}
	return nil
}

// apparmorEnabled reports whether the kernel runs AppArmor.
func apparmorEnabled() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(data) > 0 && data[0] == 'Y'
}
