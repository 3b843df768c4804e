package specconv

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

func TestParseMount(t *testing.T) {
	const bundle = "/bundles/b1"
	atime := uint64(unix.MOUNT_ATTR__ATIME)
	tests := []struct {
		name string
		in   specs.Mount
		want configs.Mount
	}{
		{
			name: "proc without options",
			in:   specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"},
			want: configs.Mount{Source: "proc", Destination: "/proc",
				Device: "proc"},
		},
		{
			name: "tmpfs flags and data keep their order",
			in: specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755",
					"size=65536k"}},
			want: configs.Mount{Source: "tmpfs", Destination: "/dev",
				Device: "tmpfs",
				Flags:  unix.MS_NOSUID | unix.MS_STRICTATIME,
				Data:   "mode=755,size=65536k"},
		},
		{
			name: "later option wins",
			in: specs.Mount{Destination: "/m", Type: "tmpfs",
				Options: []string{"ro", "rw", "noexec", "exec", "exec",
					"noexec"}},
			want: configs.Mount{Destination: "/m", Device: "tmpfs",
				Flags: unix.MS_NOEXEC, ClearedFlags: unix.MS_RDONLY},
		},
		{
			name: "every flag option",
			in: specs.Mount{Destination: "/m", Type: "ext4", Source: "/dev/sda",
				Options: []string{"ro", "nosuid", "nodev", "noexec", "sync",
					"dirsync", "remount", "mand", "noatime", "nodiratime",
					"relatime", "strictatime", "nosymfollow", "iversion",
					"lazytime", "silent", "defaults"}},
			want: configs.Mount{Source: "/dev/sda", Destination: "/m",
				Device: "ext4",
				Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV |
					unix.MS_NOEXEC | unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC |
					unix.MS_REMOUNT | unix.MS_MANDLOCK | unix.MS_NOATIME |
					unix.MS_NODIRATIME | unix.MS_RELATIME |
					unix.MS_STRICTATIME | unix.MS_NOSYMFOLLOW |
					unix.MS_I_VERSION | unix.MS_LAZYTIME | unix.MS_SILENT},
		},
		{
			name: "every clearing option",
			in: specs.Mount{Destination: "/m", Type: "ext4", Source: "/dev/sda",
				Options: []string{"rw", "suid", "dev", "exec", "async",
					"nomand", "atime", "diratime", "norelatime",
					"nostrictatime", "symfollow", "noiversion", "nolazytime",
					"loud"}},
			want: configs.Mount{Source: "/dev/sda", Destination: "/m",
				Device: "ext4",
				ClearedFlags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV |
					unix.MS_NOEXEC | unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK |
					unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME |
					unix.MS_STRICTATIME | unix.MS_NOSYMFOLLOW |
					unix.MS_I_VERSION | unix.MS_LAZYTIME | unix.MS_SILENT},
		},
		{
			name: "bind option makes a bind mount whatever the type",
			in: specs.Mount{Destination: "/data", Type: "none",
				Source: "/srv/data", Options: []string{"bind", "ro"}},
			want: configs.Mount{Source: "/srv/data", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_RDONLY},
		},
		{
			name: "type bind alone makes a bind mount",
			in: specs.Mount{Destination: "/data", Type: "bind",
				Source: "/srv/data"},
			want: configs.Mount{Source: "/srv/data", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND},
		},
		{
			name: "rbind with only clearing options",
			in: specs.Mount{Destination: "/data", Source: "/srv/data",
				Options: []string{"rbind", "rw", "exec"}},
			want: configs.Mount{Source: "/srv/data", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_REC,
				ClearedFlags: unix.MS_RDONLY | unix.MS_NOEXEC},
		},
		{
			name: "relative bind source is taken from the bundle",
			in: specs.Mount{Destination: "/data", Source: "vol/data",
				Options: []string{"bind"}},
			want: configs.Mount{Source: bundle + "/vol/data",
				Destination: "/data", Device: "bind", Flags: unix.MS_BIND},
		},
		{
			name: "relative destination is taken from /",
			in:   specs.Mount{Destination: "run/x", Type: "tmpfs"},
			want: configs.Mount{Destination: "/run/x", Device: "tmpfs"},
		},
		{
			name: "propagation options are kept in order",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"rbind", "rslave", "private", "shared",
					"rshared", "slave", "rprivate", "unbindable",
					"runbindable"}},
			want: configs.Mount{Source: "/srv", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_REC,
				PropagationFlags: []int{
					unix.MS_SLAVE | unix.MS_REC, unix.MS_PRIVATE,
					unix.MS_SHARED, unix.MS_SHARED | unix.MS_REC,
					unix.MS_SLAVE, unix.MS_PRIVATE | unix.MS_REC,
					unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC,
				}},
		},
		{
			name: "recursive attributes",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"rbind", "rro", "rnosuid", "rnodev",
					"rnoexec", "rnodiratime", "rnosymfollow"}},
			want: configs.Mount{Source: "/srv", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_REC,
				RecAttr: &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY |
					unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
					unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME |
					unix.MOUNT_ATTR_NOSYMFOLLOW}},
		},
		{
			name: "recursive clearing attributes",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"rbind", "rrw", "rsuid", "rdev", "rexec",
					"rdiratime", "rsymfollow", "ratime", "rnorelatime",
					"rnostrictatime"}},
			want: configs.Mount{Source: "/srv", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_REC,
				RecAttr: &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY |
					unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
					unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME |
					unix.MOUNT_ATTR_NOSYMFOLLOW | unix.MOUNT_ATTR_NOATIME |
					unix.MOUNT_ATTR_STRICTATIME}},
		},
		{
			name: "recursive access time clears the whole atime field",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"rbind", "rnoatime"}},
			want: configs.Mount{Source: "/srv", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_REC,
				RecAttr: &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOATIME,
					Attr_clr: atime}},
		},
		{
			name: "rrelatime sets the zero atime mode",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"rbind", "rstrictatime", "rrelatime"}},
			want: configs.Mount{Source: "/srv", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_REC,
				RecAttr: &unix.MountAttr{
					Attr_set: unix.MOUNT_ATTR_STRICTATIME,
					Attr_clr: atime}},
		},
		{
			name: "acl is data, not MS_POSIXACL",
			in: specs.Mount{Destination: "/m", Type: "ext4", Source: "/dev/sdb",
				Options: []string{"acl", "user_xattr"}},
			want: configs.Mount{Source: "/dev/sdb", Destination: "/m",
				Device: "ext4", Data: "acl,user_xattr"},
		},
		{
			name: "idmap option",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"bind", "idmap"}},
			want: configs.Mount{Source: "/srv", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND,
				IDMapping: &configs.MountIDMapping{}},
		},
		{
			name: "ridmap with the mount's own maps",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"rbind", "ridmap"},
				UIDMappings: []specs.LinuxIDMapping{
					{ContainerID: 0, HostID: 100000, Size: 65536}},
				GIDMappings: []specs.LinuxIDMapping{
					{ContainerID: 0, HostID: 200000, Size: 1000}}},
			want: configs.Mount{Source: "/srv", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND | unix.MS_REC,
				IDMapping: &configs.MountIDMapping{Recursive: true,
					UIDMappings: []configs.IDMap{
						{ContainerID: 0, HostID: 100000, Size: 65536}},
					GIDMappings: []configs.IDMap{
						{ContainerID: 0, HostID: 200000, Size: 1000}}}},
		},
		{
			name: "mappings alone make a non-recursive id-mapped mount",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"bind"},
				UIDMappings: []specs.LinuxIDMapping{
					{ContainerID: 0, HostID: 1000, Size: 1}}},
			want: configs.Mount{Source: "/srv", Destination: "/data",
				Device: "bind", Flags: unix.MS_BIND,
				IDMapping: &configs.MountIDMapping{
					UIDMappings: []configs.IDMap{
						{ContainerID: 0, HostID: 1000, Size: 1}}}},
		},
		{
			name: "tmpcopyup",
			in: specs.Mount{Destination: "/etc", Type: "tmpfs",
				Options: []string{"tmpcopyup", "size=1m"}},
			want: configs.Mount{Destination: "/etc", Device: "tmpfs",
				Data: "size=1m", TmpCopyUp: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMount(tt.in, bundle)
			if err != nil {
				t.Fatalf("ParseMount(%+v): %v", tt.in, err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("ParseMount(%+v)\n got %+v\nwant %+v", tt.in,
					*got, tt.want)
			}
		})
	}
}

func TestParseMountRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      specs.Mount
		wantErr string
	}{
		{
			name: "data on a bind mount names the option",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Options: []string{"rbind", "ro", "size=1m"}},
			wantErr: `option "size=1m"`,
		},
		{
			name: "acl on a bind mount",
			in: specs.Mount{Destination: "/data", Source: "/srv",
				Type: "bind", Options: []string{"acl"}},
			wantErr: `option "acl"`,
		},
		{
			name:    "no destination",
			in:      specs.Mount{Type: "tmpfs"},
			wantErr: "no destination",
		},
		{
			name: "bind without source",
			in: specs.Mount{Destination: "/data",
				Options: []string{"bind"}},
			wantErr: "no source",
		},
		{
			name: "NUL in the source",
			in: specs.Mount{Destination: "/data", Source: "/srv\x00/x",
				Options: []string{"bind"}},
			wantErr: "NUL",
		},
		{
			name: "idmap on a tmpfs",
			in: specs.Mount{Destination: "/t", Type: "tmpfs",
				Options: []string{"idmap"}},
			wantErr: "only supported on bind mounts",
		},
		{
			name: "tmpcopyup on a bind mount",
			in: specs.Mount{Destination: "/t", Source: "/srv",
				Options: []string{"bind", "tmpcopyup"}},
			wantErr: "tmpcopyup",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMount(tt.in, "/bundle")
			if err == nil {
				t.Fatalf("ParseMount(%+v) = %+v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestKnownMountOptionsIsSortedAndComplete(t *testing.T) {
	known := KnownMountOptions()
	if !sort.StringsAreSorted(known) {
		t.Errorf("KnownMountOptions is not sorted: %v", known)
	}
	set := map[string]bool{}
	for _, o := range known {
		if set[o] {
			t.Errorf("option %q listed twice", o)
		}
		set[o] = true
	}
	for _, o := range []string{"ro", "rw", "rbind", "rslave", "rro",
		"rnosymfollow", "nosymfollow", "idmap", "ridmap", "tmpcopyup",
		"strictatime", "remount"} {
		if !set[o] {
			t.Errorf("KnownMountOptions lacks %q", o)
		}
	}
	if set["acl"] {
		t.Error("acl is data and must not be listed")
	}
	// Every listed option must be consumed by the parser, not passed on
	// as data.
	for _, o := range known {
		m := specs.Mount{Destination: "/m", Type: "tmpfs", Options: []string{o}}
		switch o {
		case "bind", "rbind":
			m.Source = "/srv"
		case "idmap", "ridmap":
			m.Source = "/srv"
			m.Options = []string{"bind", o}
		}
		got, err := ParseMount(m, "/bundle")
		if err != nil {
			t.Errorf("option %q: %v", o, err)
			continue
		}
		if got.Data != "" {
			t.Errorf("known option %q ended up as data %q", o, got.Data)
		}
	}
}

func TestCompleteIDMappings(t *testing.T) {
	ctr := []configs.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	own := []configs.IDMap{{ContainerID: 1000, HostID: 0, Size: 1}}
	newUserns := configs.Namespaces{{Type: configs.NEWUSER},
		{Type: configs.NEWNS}}
	joined := configs.Namespaces{{Type: configs.NEWUSER,
		Path: "/proc/1/ns/user"}, {Type: configs.NEWNS}}
	tests := []struct {
		name     string
		ns       configs.Namespaces
		idm      configs.MountIDMapping
		want     configs.MountIDMapping
		rootless bool
		err      string
	}{
		{name: "idmap takes the container's maps", ns: newUserns,
			want: configs.MountIDMapping{UIDMappings: ctr,
				GIDMappings: ctr}},
		{name: "ridmap of a joined namespace takes its path", ns: joined,
			idm: configs.MountIDMapping{Recursive: true},
			want: configs.MountIDMapping{Recursive: true,
				UserNSPath: "/proc/1/ns/user"}},
		{name: "the mount's own maps are kept", ns: newUserns,
			idm: configs.MountIDMapping{UIDMappings: own,
				GIDMappings: own},
			want: configs.MountIDMapping{UIDMappings: own,
				GIDMappings: own}},
		{name: "own maps need no user namespace",
			idm: configs.MountIDMapping{UIDMappings: own,
				GIDMappings: own},
			want: configs.MountIDMapping{UIDMappings: own,
				GIDMappings: own}},
		{name: "idmap without any maps", err: "needs both"},
		{name: "only uid maps", ns: newUserns,
			idm: configs.MountIDMapping{UIDMappings: own},
			err: "needs both"},
		{name: "rootless", ns: newUserns, rootless: true,
			err: "not supported for rootless"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idm := tc.idm
			c := &configs.Config{Namespaces: tc.ns, Mounts: []*configs.Mount{
				{Destination: "/m", Device: "bind", Flags: unix.MS_BIND,
					IDMapping: &idm}}}
			if tc.ns.Contains(configs.NEWUSER) &&
				tc.ns.PathOf(configs.NEWUSER) == "" {
				c.UIDMappings, c.GIDMappings = ctr, ctr
			}
			err := completeIDMappings(c, tc.rootless)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(idm, tc.want) {
				t.Fatalf("got %+v, want %+v", idm, tc.want)
			}
		})
	}
}
