// Package configs is towel's own model of a container: what specconv makes
// of an OCI bundle's config.json once it has been checked. The rest of the
// runtime reads this model, never the raw file, so a field that is here has
// passed validation.
//
// It is not a general OCI library: fields that towel does not act on are
// kept only inside Spec.
package configs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Config is a validated container configuration.
type Config struct {
	// Bundle is the absolute path of the bundle directory.
	Bundle string `json:"bundle"`

	// Rootfs is the absolute, cleaned path of the root file system on the
	// host.
	Rootfs string `json:"rootfs"`

	// Readonlyfs makes the root file system read-only after setup.
	Readonlyfs bool `json:"readonlyfs,omitempty"`

	// NoPivotRoot uses MS_MOVE and chroot instead of pivot_root(2).
	NoPivotRoot bool `json:"no_pivot_root,omitempty"`

	// NoNewKeyring keeps the caller's session keyring instead of a new one.
	NoNewKeyring bool `json:"no_new_keyring,omitempty"`

	// RootPropagation is the propagation (MS_SHARED, MS_SLAVE, MS_PRIVATE,
	// MS_UNBINDABLE, possibly with MS_REC) of the container's root mount;
	// zero means the default (recursive private for /, slave for mounts).
	RootPropagation int `json:"root_propagation,omitempty"`

	// Namespaces lists the namespaces the container gets, in the order
	// they are handled.
	Namespaces Namespaces `json:"namespaces"`

	// UIDMappings and GIDMappings are the user namespace's id maps.
	UIDMappings []IDMap `json:"uid_mappings,omitempty"`
	GIDMappings []IDMap `json:"gid_mappings,omitempty"`

	// TimeOffsets are the time namespace's clock offsets, keyed by clock
	// name ("monotonic", "boottime").
	TimeOffsets map[string]specs.LinuxTimeOffset `json:"time_offsets,omitempty"`

	// Mounts are the mounts to make, in order, inside the rootfs.
	Mounts []*Mount `json:"mounts"`

	// Devices are the device nodes to create in /dev (the defaults and
	// linux.devices).
	Devices []*Device `json:"devices,omitempty"`

	// MaskedPaths and ReadonlyPaths are paths inside the container.
	MaskedPaths   []string `json:"masked_paths,omitempty"`
	ReadonlyPaths []string `json:"readonly_paths,omitempty"`

	// Hostname and Domainname are set in the UTS namespace.
	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`

	// Sysctl are written under /proc/sys inside the container.
	Sysctl map[string]string `json:"sysctl,omitempty"`

	// Personality is the execution domain, if set.
	Personality *specs.LinuxPersonality `json:"personality,omitempty"`

	// Cgroup says where the container's cgroup is and what it limits.
	Cgroup *Cgroup `json:"cgroup"`

	// Seccomp is the filter to load last before exec, or nil.
	Seccomp *specs.LinuxSeccomp `json:"seccomp,omitempty"`

	// MountLabel is the SELinux context for mounts.
	MountLabel string `json:"mount_label,omitempty"`

	// IntelRdt is the resctrl configuration, or nil.
	IntelRdt *specs.LinuxIntelRdt `json:"intel_rdt,omitempty"`

	// Hooks are the OCI hooks, run at the lifecycle points the spec names.
	Hooks *specs.Hooks `json:"hooks,omitempty"`

	// Process is the container's first process.
	Process *specs.Process `json:"process"`

	// Annotations are copied from config.json into the container state.
	Annotations map[string]string `json:"annotations,omitempty"`

	// OCIVersion is the version config.json declared.
	OCIVersion string `json:"oci_version"`

	// Rootless is set when towel runs without privileges over the host.
	Rootless bool `json:"rootless,omitempty"`
}

// IDMap is one range of a uid or gid map: ContainerID..+Size maps to
// HostID..+Size.
type IDMap struct {
	ContainerID int64 `json:"container_id"`
	HostID      int64 `json:"host_id"`
	Size        int64 `json:"size"`
}

// Device is a device node to create inside the container.
type Device struct {
	Path     string `json:"path"`
	Type     rune   `json:"type"` // 'c', 'b', 'u' or 'p'
	Major    int64  `json:"major"`
	Minor    int64  `json:"minor"`
	FileMode uint32 `json:"file_mode"`
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
}

// Cgroup locates the container's cgroup and carries its resources.
type Cgroup struct {
	// Path is cgroupsPath from config.json. For the fs drivers it is a
	// path relative to the cgroup root (or to each v1 hierarchy); for the
	// systemd driver it is "slice:prefix:name".
	Path string `json:"path"`

	// Systemd selects the systemd driver.
	Systemd bool `json:"systemd,omitempty"`

	// Resources are the limits to apply; nil means none.
	Resources *specs.LinuxResources `json:"resources,omitempty"`
}
