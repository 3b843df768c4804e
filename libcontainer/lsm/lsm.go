// Package lsm applies a container process's Linux Security Module labels:
// the AppArmor profile (process.apparmorProfile) and the SELinux process
// label (process.selinuxLabel), both taking effect at the process's
// execve(2), and checks the SELinux mount label (linux.mountLabel) that
// the rootfs code puts on the mounts it makes.
//
// A label for an LSM the host does not run is an error, as with runc
// 1.2: an AppArmor profile fails when writing it, and runc's validation
// refuses an SELinux process label (its mounts refuse a mount label). A
// container that asked for confinement does not start unconfined.
//
// The AppArmor attribute is written through a procfs handle checked with
// package procfs, so a container that covered /proc/self/attr cannot take
// the write; go-selinux does the same for the SELinux attribute with
// pathrs-lite.
//
// It does not load or create profiles or policies.
package lsm

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/opencontainers/selinux/go-selinux"

	"github.com/towel-runtime/towel/libcontainer/procfs"
)

// ErrNotEnabled means a label was given for an LSM the host lacks.
var ErrNotEnabled = errors.New("not enabled on this host")

// AppArmorEnabled reports whether the kernel runs AppArmor, as the
// apparmor module's "enabled" parameter says.
var AppArmorEnabled = sync.OnceValue(func() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(data), "Y")
})

// SELinuxEnabled reports whether the kernel runs SELinux with a policy.
func SELinuxEnabled() bool { return selinux.GetEnabled() }

// CheckMountLabel refuses a mount label on a host without SELinux, where
// every mount given the label would fail with a bare EINVAL.
func CheckMountLabel(mountLabel string) error {
	if mountLabel != "" && !SELinuxEnabled() {
		return fmt.Errorf("selinux mount label %q: SELinux %w", mountLabel,
			ErrNotEnabled)
	}
	return nil
}

// ApplyOnExec sets the AppArmor profile and the SELinux label that the
// calling thread's next execve(2) takes on; empty ones are left alone.
// The caller must stay on its locked OS thread until it execs: both
// attributes belong to the thread. proc is the procfs the AppArmor
// attribute is written through.
func ApplyOnExec(proc *procfs.Handle, apparmorProfile, selinuxLabel string,
) error {
	if apparmorProfile != "" {
		if err := changeProfileOnExec(proc, apparmorProfile); err != nil {
			return err
		}
	}
	if selinuxLabel != "" {
		if !SELinuxEnabled() {
			return fmt.Errorf("selinux label %q: SELinux %w", selinuxLabel,
				ErrNotEnabled)
		}
		if err := selinux.SetExecLabel(selinuxLabel); err != nil {
			return fmt.Errorf("set selinux exec label %q: %w",
				selinuxLabel, err)
		}
	}
	return nil
}

// appArmorExecAttrs are where the exec attribute lives: Linux 5.1 added a
// directory per LSM; older kernels only have the shared attr/exec.
var appArmorExecAttrs = []string{
	"thread-self/attr/apparmor/exec",
	"thread-self/attr/exec",
}

// changeProfileOnExec writes "exec PROFILE" to the thread's AppArmor exec
// attribute, which is what libapparmor's aa_change_onexec(2) does.
func changeProfileOnExec(proc *procfs.Handle, profile string) error {
	if !AppArmorEnabled() {
		return fmt.Errorf("apparmor profile %q: AppArmor %w", profile,
			ErrNotEnabled)
	}
	cmd := []byte("exec " + profile)
	var err error
	for _, attr := range appArmorExecAttrs {
		err = proc.WriteFile(attr, cmd)
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("apply apparmor profile %q: %w", profile, err)
	}
	return nil
}
