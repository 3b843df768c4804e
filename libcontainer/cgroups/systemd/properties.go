package systemd

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
	"github.com/towel-runtime/towel/libcontainer/cgroups/devices"
)

// infinity is how systemd's D-Bus API spells "no limit" for a uint64.
const infinity = uint64(math.MaxUint64)

func prop(name string, value any) sd.Property {
	return sd.Property{Name: name, Value: dbus.MakeVariant(value)}
}

// unitProperties are the properties every container unit starts with.
func unitProperties(u Unit, id string, pid int, v2 bool) []sd.Property {
	props := []sd.Property{
		sd.PropDescription("towel container " + id),
		prop("DefaultDependencies", false),
		prop("MemoryAccounting", true),
		prop("CPUAccounting", true),
		prop("TasksAccounting", true),
	}
	if v2 {
		props = append(props, prop("IOAccounting", true))
	} else {
		props = append(props, prop("BlockIOAccounting", true))
	}
	if strings.HasSuffix(u.Name, ".slice") {
		props = append(props, sd.PropWants(u.Slice))
	} else {
		props = append(props, sd.PropSlice(u.Slice), prop("Delegate", true))
	}
	if pid != -1 {
		props = append(props, sd.PropPids(uint32(pid)))
	}
	return props
}

// limit converts a v1-style limit (-1: none) to systemd's.
func limit(v int64) uint64 {
	if v < 0 {
		return infinity
	}
	return uint64(v)
}

// resourceProperties maps r to systemd unit properties. sdVersion gates
// what older systemd lacks; what has no property is left to the fs
// drivers (see the package comment).
func resourceProperties(r *specs.LinuxResources, v2 bool,
	sdVersion int) ([]sd.Property, error) {

	if r == nil {
		return nil, nil
	}
	var props []sd.Property
	add := func(name string, value any) {
		props = append(props, prop(name, value))
	}

	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit != 0 {
			if v2 {
				add("MemoryMax", limit(*m.Limit))
			} else {
				add("MemoryLimit", limit(*m.Limit))
			}
		}
		if v2 {
			if m.Reservation != nil && *m.Reservation != 0 {
				add("MemoryLow", limit(*m.Reservation))
			}
			var lim, swap int64
			if m.Limit != nil {
				lim = *m.Limit
			}
			if m.Swap != nil {
				swap = *m.Swap
			}
			s, err := cgroups.ConvertMemorySwapToV2(swap, lim)
			if err != nil {
				return nil, err
			}
			switch s {
			case "":
			case "max":
				add("MemorySwapMax", infinity)
			default:
				n, _ := strconv.ParseUint(s, 10, 64)
				add("MemorySwapMax", n)
			}
		}
	}

	if c := r.CPU; c != nil {
		idle := c.Idle != nil && *c.Idle == 1
		switch {
		case idle && v2 && sdVersion >= 252:
			// CPUWeight=idle (systemd 252) is weight 0 on D-Bus.
			add("CPUWeight", uint64(0))
		case c.Shares != nil && *c.Shares != 0 && !idle:
			if v2 {
				add("CPUWeight", cgroups.ConvertCPUSharesToWeight(*c.Shares))
			} else {
				add("CPUShares", *c.Shares)
			}
		}
		cpuQuotaProperties(c, sdVersion, add)
		if sdVersion >= 244 {
			if c.Cpus != "" {
				bits, err := rangeToBits(c.Cpus)
				if err != nil {
					return nil, fmt.Errorf("cpu.cpus: %w", err)
				}
				add("AllowedCPUs", bits)
			}
			if c.Mems != "" {
				bits, err := rangeToBits(c.Mems)
				if err != nil {
					return nil, fmt.Errorf("cpu.mems: %w", err)
				}
				add("AllowedMemoryNodes", bits)
			}
		}
	}

	if p := cgroups.PidsLimit(r.Pids); p != "" {
		if p == "max" {
			add("TasksMax", infinity)
		} else {
			add("TasksMax", uint64(r.Pids.Limit))
		}
	}

	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight != 0 {
		if v2 {
			add("IOWeight",
				cgroups.ConvertBlkioWeightToIOWeight(uint64(*b.Weight)))
		} else {
			add("BlockIOWeight", uint64(*b.Weight))
		}
	}

	if r.Devices != nil {
		dp, err := deviceProperties(r.Devices, sdVersion)
		if err != nil {
			return nil, err
		}
		props = append(props, dp...)
	}

	if v2 && len(r.Unified) > 0 {
		up, err := unifiedProperties(r.Unified, sdVersion)
		if err != nil {
			return nil, err
		}
		props = append(props, up...)
	}
	return props, nil
}

// cpuQuotaProperties sets CPUQuotaPerSecUSec from quota/period, rounded
// up to whole 10 ms as systemd keeps it (a quota below 1% would read as
// none), and CPUQuotaPeriodUSec (systemd 242).
func cpuQuotaProperties(c *specs.LinuxCPU, sdVersion int,
	add func(string, any)) {

	var period uint64
	if c.Period != nil {
		period = *c.Period
	}
	if period != 0 && sdVersion >= 242 {
		add("CPUQuotaPeriodUSec", period)
	}
	if c.Quota == nil || *c.Quota == 0 {
		return
	}
	if *c.Quota < 0 {
		add("CPUQuotaPerSecUSec", infinity)
		return
	}
	if period == 0 {
		period = 100000 // the kernel's default CFS period
	}
	perSec := uint64(*c.Quota) * 1000000 / period
	if rem := perSec % 10000; rem != 0 {
		perSec += 10000 - rem
	}
	add("CPUQuotaPerSecUSec", perSec)
}

// rangeToBits turns a cpu list ("0-2,7") into the byte mask systemd's
// AllowedCPUs takes: bit N of the little-endian bytes is CPU N.
func rangeToBits(list string) ([]byte, error) {
	var mask big.Int
	for _, part := range strings.Split(strings.TrimSpace(list), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parse %q: %w", list, err)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 32); err != nil {
				return nil, fmt.Errorf("parse %q: %w", list, err)
			}
		}
		if last < first || last > 8192 {
			return nil, fmt.Errorf("parse %q: bad range %q", list, part)
		}
		for i := first; i <= last; i++ {
			mask.SetBit(&mask, int(i), 1)
		}
	}
	be := mask.Bytes()
	le := make([]byte, len(be))
	for i, b := range be {
		le[len(be)-1-i] = b
	}
	if len(le) == 0 {
		le = []byte{0}
	}
	return le, nil
}

// deviceAllow is one DeviceAllow entry, D-Bus type (ss).
type deviceAllow struct {
	Path  string
	Perms string
}

// deviceProperties maps device rules to DevicePolicy and DeviceAllow
// (systemd.resource-control(5)). systemd only keeps allow lists, so the
// rules' state must deny by default, except allow-all:
//
//   - c M:m is /dev/char/M:m (parsed from the string since systemd 240);
//   - c M:* is "char-M" since systemd 240, else the group name that
//     /proc/devices gives M;
//   - c *:* is "char-*";
//   - c *:m has no form and is left to the fs driver's filter, which has
//     the last word anyway (both filters must allow an access).
func deviceProperties(spec []specs.LinuxDeviceCgroup,
	sdVersion int) ([]sd.Property, error) {

	rules, err := devices.FromSpec(spec)
	if err != nil {
		return nil, err
	}
	s := devices.Compute(rules)
	if s.DefaultAllow {
		if len(s.Exceptions) > 0 {
			return nil, fmt.Errorf("device rules: systemd cannot express " +
				"a deny list (allow all but some devices)")
		}
		return []sd.Property{prop("DevicePolicy", "auto"),
			prop("DeviceAllow", []deviceAllow{})}, nil
	}
	allow := []deviceAllow{}
	for _, e := range s.Exceptions {
		kind := "char"
		if e.Type == devices.Block {
			kind = "block"
		}
		entry := deviceAllow{Perms: e.Access.String()}
		switch {
		case e.Major == devices.Wildcard && e.Minor != devices.Wildcard:
			continue
		case e.Major == devices.Wildcard:
			entry.Path = kind + "-*"
		case e.Minor == devices.Wildcard && sdVersion >= 240:
			entry.Path = kind + "-" + strconv.FormatInt(e.Major, 10)
		case e.Minor == devices.Wildcard:
			group, err := deviceGroup(e.Type, e.Major)
			if err != nil {
				return nil, err
			}
			if group == "" {
				continue // no name to give it; the fs filter has it
			}
			entry.Path = kind + "-" + group
		default:
			entry.Path = fmt.Sprintf("/dev/%s/%d:%d", kind, e.Major, e.Minor)
		}
		allow = append(allow, entry)
	}
	return []sd.Property{
		prop("DevicePolicy", "strict"),
		// An empty list first resets what a previous Set gave.
		prop("DeviceAllow", []deviceAllow{}),
		prop("DeviceAllow", allow),
	}, nil
}

// unifiedProperties maps the unified keys systemd has properties for;
// every key is also written to its file by the fs2 driver afterwards.
func unifiedProperties(unified map[string]string,
	sdVersion int) ([]sd.Property, error) {

	keys := make([]string, 0, len(unified))
	for k := range unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var props []sd.Property
	num := func(k, v string) (uint64, error) {
		v = strings.TrimSpace(v)
		if v == "max" {
			return infinity, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unified %s: %q is not a number or "+
				"\"max\"", k, v)
		}
		return n, nil
	}
	for _, k := range keys {
		v := unified[k]
		name := map[string]string{
			"memory.min": "MemoryMin", "memory.low": "MemoryLow",
			"memory.high": "MemoryHigh", "memory.max": "MemoryMax",
			"memory.swap.max": "MemorySwapMax", "pids.max": "TasksMax",
			"cpu.weight": "CPUWeight", "io.weight": "IOWeight",
		}[k]
		switch {
		case name != "":
			n, err := num(k, v)
			if err != nil {
				return nil, err
			}
			props = append(props, prop(name, n))
		case k == "cpu.max":
			f := strings.Fields(v)
			if len(f) == 0 || len(f) > 2 {
				return nil, fmt.Errorf("unified cpu.max: %q is not "+
					"\"QUOTA [PERIOD]\"", v)
			}
			quota, err := num(k, f[0])
			if err != nil {
				return nil, err
			}
			period := uint64(100000)
			if len(f) == 2 {
				if period, err = num(k, f[1]); err != nil || period == 0 {
					return nil, fmt.Errorf("unified cpu.max: bad period "+
						"in %q", v)
				}
				if sdVersion >= 242 {
					props = append(props, prop("CPUQuotaPeriodUSec", period))
				}
			}
			perSec := infinity
			if quota != infinity {
				perSec = quota * 1000000 / period
				if rem := perSec % 10000; rem != 0 {
					perSec += 10000 - rem
				}
			}
			props = append(props, prop("CPUQuotaPerSecUSec", perSec))
		case (k == "cpuset.cpus" || k == "cpuset.mems") && sdVersion >= 244:
			bits, err := rangeToBits(v)
			if err != nil {
				return nil, fmt.Errorf("unified %s: %w", k, err)
			}
			name := "AllowedCPUs"
			if k == "cpuset.mems" {
				name = "AllowedMemoryNodes"
			}
			props = append(props, prop(name, bits))
		}
	}
	return props, nil
}
