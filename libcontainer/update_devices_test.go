package libcontainer

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups/devices"
	"github.com/towel-runtime/towel/libcontainer/configs"
)

func TestUpdateDevicesReplaceRulesAndKeepDefaults(t *testing.T) {
	fuseMajor, fuseMinor := int64(10), int64(229)
	fuse := specs.LinuxDeviceCgroup{Allow: true, Type: "c",
		Major: &fuseMajor, Minor: &fuseMinor, Access: "rw"}
	nodes := []*configs.Device{{Path: "/dev/kmsg", Type: 'c', Major: 1,
		Minor: 11}}

	rules := deviceRules([]specs.LinuxDeviceCgroup{fuse}, nodes)
	state, err := devices.FromSpec(rules)
	if err != nil {
		t.Fatal(err)
	}
	s := devices.Compute(state)
	for _, c := range []struct {
		what         string
		major, minor int64
		want         bool
	}{
		{"the rule of the update", 10, 229, true},
		{"a device node of the container", 1, 11, true},
		{"the built-in /dev/null", 1, 3, true},
		{"anything else", 8, 0, false},
	} {
		got := s.Allows(devices.Char, c.major, c.minor, devices.Read)
		if got != c.want {
			t.Errorf("%s (%d:%d): allowed %v, want %v", c.what,
				c.major, c.minor, got, c.want)
		}
	}

	old := &specs.LinuxResources{Devices: devices.DefaultAllowRules(),
		Pids: &specs.LinuxPids{Limit: 5}}
	upd := &specs.LinuxResources{Devices: rules}
	merged := mergeResources(old, upd)
	if len(merged.Devices) != len(rules) || merged.Pids.Limit != 5 {
		t.Errorf("merge: devices %d (want %d), pids %v", len(merged.Devices),
			len(rules), merged.Pids)
	}
	touched := touchedSections(merged, upd)
	if touched.Devices == nil || touched.Pids != nil {
		t.Errorf("touched sections: devices %v, pids %v", touched.Devices,
			touched.Pids)
	}
	if touchedSections(merged, &specs.LinuxResources{}).Devices != nil {
		t.Error("an update without devices rewrites them")
	}
}
