package specconv

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// joinSelfUserns makes s join our own user namespace, whose maps are
// read back from /proc/self.
func joinSelfUserns(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{
		Type: specs.UserNamespace, Path: "/proc/self/ns/user"})
}

func TestConvertJoinedUsernsTakesItsMaps(t *testing.T) {
	bundle := bundleWithRootfs(t)
	s := Example()
	joinSelfUserns(s)
	c, err := Convert(s, &Opts{Bundle: bundle, ID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.UIDMappings) == 0 || len(c.GIDMappings) == 0 {
		t.Fatalf("maps of the joined namespace not read: %v %v",
			c.UIDMappings, c.GIDMappings)
	}

	// The same maps given in the config are accepted.
	for _, m := range c.UIDMappings {
		s.Linux.UIDMappings = append(s.Linux.UIDMappings,
			specs.LinuxIDMapping{ContainerID: uint32(m.ContainerID),
				HostID: uint32(m.HostID), Size: uint32(m.Size)})
	}
	for _, m := range c.GIDMappings {
		s.Linux.GIDMappings = append(s.Linux.GIDMappings,
			specs.LinuxIDMapping{ContainerID: uint32(m.ContainerID),
				HostID: uint32(m.HostID), Size: uint32(m.Size)})
	}
	if _, err := Convert(s, &Opts{Bundle: bundle, ID: "t"}); err != nil {
		t.Fatalf("the joined namespace's own maps: %v", err)
	}
}

func TestConvertJoinedUsernsRefusesOtherMaps(t *testing.T) {
	bundle := bundleWithRootfs(t)
	s := Example()
	joinSelfUserns(s)
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 12345, Size: 1}}
	s.Linux.GIDMappings = s.Linux.UIDMappings
	_, err := Convert(s, &Opts{Bundle: bundle, ID: "t"})
	if err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("got %v, want an error about different maps", err)
	}
}

func TestConvertIDMapOptionTakesJoinedUsernsPath(t *testing.T) {
	bundle := bundleWithRootfs(t)
	s := Example()
	joinSelfUserns(s)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/m",
		Type: "bind", Source: "/tmp", Options: []string{"rbind", "ridmap"}})
	c, err := Convert(s, &Opts{Bundle: bundle, ID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mounts[len(c.Mounts)-1]
	want := configs.MountIDMapping{Recursive: true,
		UserNSPath: "/proc/self/ns/user"}
	if m.IDMapping == nil || m.IDMapping.UserNSPath != want.UserNSPath ||
		!m.IDMapping.Recursive || m.IDMapping.UIDMappings != nil {
		t.Fatalf("id mapping %+v, want %+v", m.IDMapping, want)
	}
}
