package specconv

import (
	"os"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// exampleCaps is the small capability set runc 1.2 gives the example
// process. Inheritable and ambient are left empty on purpose: an ambient
// capability needs the same inheritable one (capabilities(7)), and a
// non-empty inheritable set is the atypical environment of CVE-2022-29162.
var exampleCaps = []string{
	"CAP_AUDIT_WRITE",
	"CAP_KILL",
	"CAP_NET_BIND_SERVICE",
}

// Example returns the spec that `towel spec` writes: the same document
// runc 1.2's `runc spec` writes, so that a bundle made with either runtime
// runs on both. The process is an interactive sh on a read-only "rootfs".
func Example() *specs.Spec {
	spec := &specs.Spec{
		Version: specs.Version,
		Root: &specs.Root{
			Path:     "rootfs",
			Readonly: true,
		},
		Process: &specs.Process{
			Terminal: true,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:" +
					"/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd:             "/",
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  copyStrings(exampleCaps),
				Effective: copyStrings(exampleCaps),
				Permitted: copyStrings(exampleCaps),
			},
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024},
			},
		},
		// runc writes "runc" here; towel keeps it so that a config.json
		// made by either runtime is byte for byte the same.
		Hostname: "runc",
		Mounts:   exampleMounts(),
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				// Deny every device; the runtime's built-in list of
				// default devices is allowed on top of this.
				Devices: []specs.LinuxDeviceCgroup{
					{Allow: false, Access: "rwm"},
				},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi",
				"/proc/asound",
				"/proc/kcore",
				"/proc/keys",
				"/proc/latency_stats",
				"/proc/timer_list",
				"/proc/timer_stats",
				"/proc/sched_debug",
				"/sys/firmware",
				"/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus",
				"/proc/fs",
				"/proc/irq",
				"/proc/sys",
				"/proc/sysrq-trigger",
			},
		},
	}

	// A cgroup namespace only hides the host's hierarchy well on a pure
	// cgroup v2 host, so runc adds it there and nowhere else.
	if cgroup2Unified() {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces,
			specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return spec
}

// exampleMounts returns the default mounts, in the order they are made.
func exampleMounts() []specs.Mount {
	return []specs.Mount{
		{
			Destination: "/proc",
			Type:        "proc",
			Source:      "proc",
		},
		{
			Destination: "/dev",
			Type:        "tmpfs",
			Source:      "tmpfs",
			Options: []string{
				"nosuid", "strictatime", "mode=755", "size=65536k",
			},
		},
		{
			Destination: "/dev/pts",
			Type:        "devpts",
			Source:      "devpts",
			Options: []string{
				"nosuid", "noexec", "newinstance",
				"ptmxmode=0666", "mode=0620", "gid=5",
			},
		},
		{
			Destination: "/dev/shm",
			Type:        "tmpfs",
			Source:      "shm",
			Options: []string{
				"nosuid", "noexec", "nodev", "mode=1777", "size=65536k",
			},
		},
		{
			Destination: "/dev/mqueue",
			Type:        "mqueue",
			Source:      "mqueue",
			Options:     []string{"nosuid", "noexec", "nodev"},
		},
		{
			Destination: "/sys",
			Type:        "sysfs",
			Source:      "sysfs",
			Options:     []string{"nosuid", "noexec", "nodev", "ro"},
		},
		{
			Destination: "/sys/fs/cgroup",
			Type:        "cgroup",
			Source:      "cgroup",
			Options: []string{
				"nosuid", "noexec", "nodev", "relatime", "ro",
			},
		},
	}
}

// ToRootless changes spec, as Example returns it, into one an unprivileged
// user can run, as `runc spec --rootless` does:
//   - a new user namespace maps the caller's effective uid and gid to root,
//     and no other id;
//   - no network namespace, since a user could not configure one;
//   - /sys is a read-only recursive bind of the host's, because a fresh
//     sysfs needs a network namespace the user owns;
//   - uid= and gid= mount options go, since those ids are not mapped;
//   - no linux.resources, since the user may not own a cgroup to set them.
func ToRootless(spec *specs.Spec) {
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}

	var namespaces []specs.LinuxNamespace
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace ||
			ns.Type == specs.UserNamespace {
			continue
		}
		namespaces = append(namespaces, ns)
	}
	spec.Linux.Namespaces = append(namespaces,
		specs.LinuxNamespace{Type: specs.UserNamespace})

	spec.Linux.UIDMappings = []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1},
	}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1},
	}

	mounts := make([]specs.Mount, 0, len(spec.Mounts))
	for _, m := range spec.Mounts {
		if path.Clean(m.Destination) == "/sys" {
			mounts = append(mounts, specs.Mount{
				Destination: "/sys",
				Type:        "none",
				Source:      "/sys",
				Options: []string{
					"rbind", "nosuid", "noexec", "nodev", "ro",
				},
			})
			continue
		}
		var options []string
		for _, o := range m.Options {
			if strings.HasPrefix(o, "uid=") || strings.HasPrefix(o, "gid=") {
				continue
			}
			options = append(options, o)
		}
		m.Options = options
		mounts = append(mounts, m)
	}
	spec.Mounts = mounts

	spec.Linux.Resources = nil
}

// cgroup2Unified reports whether /sys/fs/cgroup is a cgroup2 file system,
// that is, whether the host runs cgroup v2 alone. A host whose
// /sys/fs/cgroup cannot be read (a user namespace without it) counts as
// not unified.
func cgroup2Unified() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return false
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC
}

func copyStrings(s []string) []string {
	return append([]string(nil), s...)
}
