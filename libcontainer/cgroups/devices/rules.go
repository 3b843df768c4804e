// Package devices turns linux.resources.devices into what the kernel
// enforces: lines for the v1 devices.allow and devices.deny files, or an
// eBPF program attached to a v2 cgroup. It also holds the built-in list of
// devices every container may use.
//
// Rules follow the v1 devices controller's semantics
// (Documentation/admin-guide/cgroup-v1/devices.rst): a default behaviour,
// allow or deny, and exceptions to it; a rule of type "a" resets both.
// The list starts as "deny everything", whatever the host cgroup allows.
package devices

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Type is a device type: 'a' (all), 'c' (char) or 'b' (block).
type Type rune

const (
	All   Type = 'a'
	Char  Type = 'c'
	Block Type = 'b'
)

// Wildcard as a major or minor number matches every number.
const Wildcard int64 = -1

// Access is a set of device permissions.
type Access uint8

const (
	Read  Access = 1 << iota // open for reading
	Write                    // open for writing
	Mknod                    // mknod(2)

	AccessAll = Read | Write | Mknod
)

// ParseAccess parses "rwm" and its subsets. "" means all three, as the
// runtime-spec leaves access optional.
func ParseAccess(s string) (Access, error) {
	if s == "" {
		return AccessAll, nil
	}
	var a Access
	for _, c := range s {
		switch c {
		case 'r':
			a |= Read
		case 'w':
			a |= Write
		case 'm':
			a |= Mknod
		default:
			return 0, fmt.Errorf("invalid device access %q: only r, w and "+
				"m are allowed", s)
		}
	}
	return a, nil
}

func (a Access) String() string {
	var b strings.Builder
	if a&Read != 0 {
		b.WriteByte('r')
	}
	if a&Write != 0 {
		b.WriteByte('w')
	}
	if a&Mknod != 0 {
		b.WriteByte('m')
	}
	return b.String()
}

// Rule is one device cgroup rule.
type Rule struct {
	Type   Type
	Major  int64 // or Wildcard
	Minor  int64 // or Wildcard
	Access Access
	Allow  bool
}

// v1Line is the rule as written to devices.allow or devices.deny:
// "c 1:3 rwm".
func (r Rule) v1Line() string {
	if r.Type == All {
		return "a"
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, number(r.Major),
		number(r.Minor), r.Access)
}

func number(n int64) string {
	if n == Wildcard {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

// String is the rule in the v1 file format with its verdict.
func (r Rule) String() string {
	verdict := "deny"
	if r.Allow {
		verdict = "allow"
	}
	return verdict + " " + r.v1Line()
}

// FromSpec converts linux.resources.devices entries to rules. A missing
// type is "a", a missing major or minor is a wildcard.
func FromSpec(in []specs.LinuxDeviceCgroup) ([]Rule, error) {
	rules := make([]Rule, 0, len(in))
	for i, d := range in {
		r := Rule{Allow: d.Allow, Major: Wildcard, Minor: Wildcard}
		switch d.Type {
		case "", "a":
			r.Type = All
		case "c":
			r.Type = Char
		case "b":
			r.Type = Block
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: invalid "+
				"type %q: want a, b or c", i, d.Type)
		}
		if d.Major != nil {
			if *d.Major < 0 {
				return nil, fmt.Errorf("linux.resources.devices[%d]: "+
					"negative major %d", i, *d.Major)
			}
			r.Major = *d.Major
		}
		if d.Minor != nil {
			if *d.Minor < 0 {
				return nil, fmt.Errorf("linux.resources.devices[%d]: "+
					"negative minor %d", i, *d.Minor)
			}
			r.Minor = *d.Minor
		}
		a, err := ParseAccess(d.Access)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		r.Access = a
		rules = append(rules, r)
	}
	return rules, nil
}

func i64(v int64) *int64 { return &v }

// DefaultAllowRules returns the devices every container may use on top of
// its config's rules, as runc 1.2.1 allows them: mknod of any char or
// block device, and /dev/null, zero, full, random, urandom, tty, console,
// ptmx, the pts/* terminals and /dev/net/tun. specconv appends them to
// linux.resources.devices.
func DefaultAllowRules() []specs.LinuxDeviceCgroup {
	dev := func(typ string, major, minor *int64,
		access string) specs.LinuxDeviceCgroup {

		return specs.LinuxDeviceCgroup{Allow: true, Type: typ,
			Major: major, Minor: minor, Access: access}
	}
	return []specs.LinuxDeviceCgroup{
		dev("c", nil, nil, "m"),
		dev("b", nil, nil, "m"),
		dev("c", i64(1), i64(3), "rwm"),    // /dev/null
		dev("c", i64(1), i64(5), "rwm"),    // /dev/zero
		dev("c", i64(1), i64(7), "rwm"),    // /dev/full
		dev("c", i64(1), i64(8), "rwm"),    // /dev/random
		dev("c", i64(1), i64(9), "rwm"),    // /dev/urandom
		dev("c", i64(5), i64(0), "rwm"),    // /dev/tty
		dev("c", i64(5), i64(1), "rwm"),    // /dev/console
		dev("c", i64(5), i64(2), "rwm"),    // /dev/ptmx
		dev("c", i64(136), nil, "rwm"),     // /dev/pts/*
		dev("c", i64(10), i64(200), "rwm"), // /dev/net/tun
	}
}
