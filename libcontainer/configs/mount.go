package configs

import "golang.org/x/sys/unix"

// Mount is one entry of config.json's mounts, with its options parsed.
type Mount struct {
	// Source is the device, host path (for binds) or a name for virtual
	// file systems. For bind mounts it is absolute (relative sources are
	// resolved against the bundle by specconv).
	Source string `json:"source"`

	// Destination is the absolute path inside the container. It is
	// untrusted: resolve it only inside the rootfs.
	Destination string `json:"destination"`

	// Device is the file system type ("proc", "tmpfs", "bind", ...).
	Device string `json:"device"`

	// Flags are the mount(2) flags to set, MS_BIND included for binds.
	Flags int `json:"flags,omitempty"`

	// ClearedFlags are the flags options like "rw", "suid" and "exec"
	// asked to clear. On a bind mount they are applied in the remount even
	// when they are the only options, as runc 1.2 does.
	ClearedFlags int `json:"cleared_flags,omitempty"`

	// PropagationFlags are applied one by one after the mount
	// (MS_SHARED, MS_PRIVATE, ... possibly with MS_REC).
	PropagationFlags []int `json:"propagation_flags,omitempty"`

	// Data is the superblock option string for mount(2). For a bind mount
	// it is always empty: specconv rejects data options on binds.
	Data string `json:"data,omitempty"`

	// RecAttr holds recursive attributes ("rro", "rnosuid", ...) applied
	// with mount_setattr(2) and AT_RECURSIVE, or nil.
	RecAttr *unix.MountAttr `json:"rec_attr,omitempty"`

	// IDMapping asks for an id-mapped mount, or is nil.
	IDMapping *MountIDMapping `json:"id_mapping,omitempty"`

	// TmpCopyUp ("tmpcopyup", tmpfs only) fills the new tmpfs with a copy
	// of what the destination directory held before the mount.
	TmpCopyUp bool `json:"tmpcopyup,omitempty"`
}

// MountIDMapping is an id-mapped mount's map (runtime-spec 1.2.0
// "uidMappings"/"gidMappings" on a mount, or the "idmap"/"ridmap"
// options with the container's maps).
type MountIDMapping struct {
	// Recursive applies the map to every submount ("ridmap").
	Recursive   bool    `json:"recursive,omitempty"`
	UIDMappings []IDMap `json:"uid_mappings"`
	GIDMappings []IDMap `json:"gid_mappings"`

	// UserNSPath, instead of the maps, names the user namespace whose
	// maps are used: the one the container joins, for "idmap" and
	// "ridmap" without maps of their own.
	UserNSPath string `json:"userns_path,omitempty"`
}

// IsBind reports whether m is a bind mount.
func (m *Mount) IsBind() bool {
	return m.Flags&unix.MS_BIND != 0
}
