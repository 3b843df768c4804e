package rootfs

import (
	"fmt"
	"os"

	"github.com/opencontainers/selinux/go-selinux/label"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// lockableFlags are the per-mount flags the kernel locks on mounts that a
// less privileged user namespace inherited: they cannot be cleared there
// (can_change_locked_flags() in fs/namespace.c).
const lockableFlags = unix.MS_RDONLY | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOSUID | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME

// defaultMountFlags are the flags of the tmpfs runc puts under a cgroup v1
// mount, and of its per-hierarchy mounts.
const defaultMountFlags = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV

func isBind(m *configs.Mount) bool {
	return m.IsBind() || m.Device == "bind"
}

// mountEntry makes one mount of the config; src, if set, is the tree the
// parent prepared for it.
func (mt *mounter) mountEntry(m *configs.Mount, src *os.File) error {
	var (
		mnt *os.File
		err error
	)
	switch {
	case m.Flags&unix.MS_REMOUNT != 0:
		// "remount", with or without "bind", changes the mount already
		// at the destination, as mount(2) does.
		mnt, err = mt.remountFS(m)
	case isBind(m):
		mnt, err = mt.mountBind(m, src)
	case m.Device == "cgroup":
		err = mt.mountCgroup(m)
	default:
		mnt, err = mt.mountFS(m)
	}
	if mnt != nil {
		mnt.Close()
	}
	return err
}

// mountBind makes a bind mount of the host path m.Source, or of the tree
// src prepared for it, at m.Destination, creating the destination as a
// directory or an empty file to match the source.
func (mt *mounter) mountBind(m *configs.Mount, src *os.File) (
	*os.File, error) {
	var st unix.Stat_t
	var err error
	if src != nil {
		err = unix.Fstat(int(src.Fd()), &st)
	} else {
		err = unix.Stat(m.Source, &st)
	}
	if err != nil {
		return nil, &os.PathError{Op: "stat bind source", Path: m.Source,
			Err: err}
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	target, _, err := mt.openTarget(m.Destination, !isDir)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	targetPath, err := fdPath(target)
	if err != nil {
		return nil, err
	}
	if err := mt.checkProcTarget(targetPath, m); err != nil {
		return nil, err
	}
	return mt.bindOnto(m, target, src)
}

// bindOnto attaches src, or else a copy of the mount tree at m.Source, on
// target, then applies m's propagation, flags and recursive attributes to
// it.
func (mt *mounter) bindOnto(m *configs.Mount, target, src *os.File) (
	*os.File, error) {
	var mnt *os.File
	var err error
	if src != nil {
		// A handle of our own: the caller keeps src, and closing the
		// returned handle must not close it.
		mnt, err = dupFile(src)
	} else {
		mnt, err = cloneMount(m.Source, m.Flags&unix.MS_REC != 0)
	}
	if err != nil {
		return nil, err
	}
	if err := moveMount(mnt, target); err != nil {
		mnt.Close()
		return nil, err
	}
	if err := setPropagation(mnt, m.PropagationFlags); err != nil {
		mnt.Close()
		return nil, err
	}
	if err := remountBind(mnt, m); err != nil {
		mnt.Close()
		return nil, err
	}
	if err := setRecAttr(mnt, m.RecAttr); err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}

// remountBind applies m's flags to the bind mount mnt. A bind mount keeps
// its source's flags until an MS_BIND|MS_REMOUNT sets them; like runc 1.2,
// towel remounts whenever an option was given, a clearing one ("rw",
// "suid", "exec", ...) included, so "rw" alone makes a read-only source
// writable in the container.
//
// In a user namespace the kernel refuses to clear flags locked on the
// source. The remount is then retried keeping the source's locked flags,
// unless the config asked to clear one of them or asked for another
// access-time mode, which cannot be honoured.
func remountBind(mnt *os.File, m *configs.Mount) error {
	if m.Flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) == 0 &&
		m.ClearedFlags == 0 {
		return nil
	}
	flags := m.Flags | unix.MS_BIND | unix.MS_REMOUNT
	firstErr := unix.Mount("", procFdPath(mnt), "", uintptr(flags), "")
	if firstErr == nil {
		return nil
	}

	var st unix.Statfs_t
	if err := unix.Fstatfs(int(mnt.Fd()), &st); err != nil {
		return &os.PathError{Op: "statfs", Path: m.Source, Err: err}
	}
	srcFlags := statfsToMountFlags(st.Flags)
	remountErr := &os.PathError{Op: "remount bind", Path: m.Destination,
		Err: firstErr}
	if srcFlags&m.ClearedFlags&lockableFlags != 0 {
		return remountErr
	}
	if m.Flags&atimeFlags != 0 && atimeMode(m.Flags) != atimeMode(srcFlags) {
		return remountErr
	}
	flags |= srcFlags & lockableFlags
	err := unix.Mount("", procFdPath(mnt), "", uintptr(flags), "")
	if err != nil {
		return &os.PathError{Op: "remount bind keeping locked flags",
			Path: m.Destination, Err: err}
	}
	return nil
}

const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// atimeMode reduces MS_*ATIME flags to the mode mount(2) makes of them:
// MS_STRICTATIME wins, then MS_NOATIME, and relatime is the default.
func atimeMode(flags int) int {
	switch {
	case flags&unix.MS_STRICTATIME != 0:
		return unix.MS_STRICTATIME
	case flags&unix.MS_NOATIME != 0:
		return unix.MS_NOATIME
	}
	return unix.MS_RELATIME
}

// statfsToMountFlags maps the ST_* flags of statfs(2) to MS_* flags. A
// mount with neither ST_NOATIME nor ST_RELATIME is strictatime.
func statfsToMountFlags(st int64) int {
	pairs := [][2]int{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_SYNCHRONOUS, unix.MS_SYNCHRONOUS},
		{unix.ST_MANDLOCK, unix.MS_MANDLOCK},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	}
	flags := 0
	for _, p := range pairs {
		if int(st)&p[0] != 0 {
			flags |= p[1]
		}
	}
	if flags&(unix.MS_NOATIME|unix.MS_RELATIME) == 0 {
		flags |= unix.MS_STRICTATIME
	}
	return flags
}

// mountFS mounts a new file system (proc, tmpfs, devpts, overlay, ...) at
// m.Destination, creating the directory if needed.
func (mt *mounter) mountFS(m *configs.Mount) (*os.File, error) {
	if m.Device == "proc" || m.Device == "sysfs" {
		if err := mt.checkPlainDir(m.Destination); err != nil {
			return nil, fmt.Errorf("%s must be mounted on a directory: %w",
				m.Device, err)
		}
	}
	target, existed, err := mt.openTarget(m.Destination, false)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	targetPath, err := fdPath(target)
	if err != nil {
		return nil, err
	}
	if err := mt.checkProcTarget(targetPath, m); err != nil {
		return nil, err
	}
	data := m.Data
	if m.Device == "tmpfs" && existed {
		// The tmpfs takes the mode of the directory it covers; a mode=
		// in the options comes later and wins (runc 1.2).
		var st unix.Stat_t
		if err := unix.Fstat(int(target.Fd()), &st); err != nil {
			return nil, &os.PathError{Op: "fstat", Path: m.Destination,
				Err: err}
		}
		mode := fmt.Sprintf("mode=%04o", st.Mode&0o7777)
		if data == "" {
			data = mode
		} else {
			data = mode + "," + data
		}
	}
	return mt.fsOnto(m, target, targetPath, data)
}

// fsOnto mounts the file system of m with data on target, found at
// targetPath, and applies m's propagation and recursive attributes.
func (mt *mounter) fsOnto(m *configs.Mount, target *os.File,
	targetPath, data string) (*os.File, error) {
	flags := m.Flags
	// A tmpfs may need a chmod or a copy-up, and /dev its device nodes and
	// the console: both stay writable until Finalize.
	if m.Device == "tmpfs" || cleanPath(m.Destination) == "/dev" {
		flags &^= unix.MS_RDONLY
	}
	// The kernel does not label procfs and sysfs (SELinux).
	if mt.cfg.MountLabel != "" && m.Device != "proc" && m.Device != "sysfs" {
		data = label.FormatMountLabel(data, mt.cfg.MountLabel)
	}

	mnt, err := mountOnto(m.Source, target, targetPath, m.Device,
		uintptr(flags), data)
	if err != nil {
		return nil, err
	}
	if m.TmpCopyUp {
		err = copyUp(target, mnt)
	}
	if err == nil {
		err = setPropagation(mnt, m.PropagationFlags)
	}
	if err == nil {
		err = setRecAttr(mnt, m.RecAttr)
	}
	if err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}

// remountFS changes the mount at m.Destination ("remount" option): no new
// mount, no directory created. With "bind" only the per-mount flags
// change, else the file system's too.
func (mt *mounter) remountFS(m *configs.Mount) (*os.File, error) {
	inRoot, err := mt.semiResolve(m.Destination)
	if err != nil {
		return nil, err
	}
	target, err := openInRoot(mt.root, inRoot)
	if err != nil {
		return nil, err
	}
	err = unix.Mount(m.Source, procFdPath(target), m.Device,
		uintptr(m.Flags), m.Data)
	if err != nil {
		err = &os.PathError{Op: "remount", Path: m.Destination, Err: err}
	}
	if err == nil {
		err = setPropagation(target, m.PropagationFlags)
	}
	if err == nil {
		err = setRecAttr(target, m.RecAttr)
	}
	if err != nil {
		target.Close()
		return nil, err
	}
	return target, nil
}
