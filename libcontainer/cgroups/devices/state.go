package devices

import (
	"fmt"
	"strconv"
	"strings"
)

// State is what a list of rules amounts to: a default verdict and the
// exceptions to it, each with the opposite verdict. It mirrors what the
// v1 devices controller keeps per cgroup.
type State struct {
	DefaultAllow bool
	// Exceptions are distinct (type, major, minor) triples, in the
	// order they were first added.
	Exceptions []Rule
}

// Compute applies rules, in order, to a state that denies everything.
func Compute(rules []Rule) State {
	var s State
	for _, r := range rules {
		s.Apply(r)
	}
	return s
}

// Apply adds one rule the way the v1 kernel does: a rule of type "a"
// sets the default and drops every exception; a rule with the default's
// verdict removes its access from a matching exception; any other rule
// adds its access to one.
func (s *State) Apply(r Rule) {
	if r.Type == All {
		s.DefaultAllow = r.Allow
		s.Exceptions = nil
		return
	}
	i := s.find(r)
	if r.Allow == s.DefaultAllow {
		if i < 0 {
			return
		}
		s.Exceptions[i].Access &^= r.Access
		if s.Exceptions[i].Access == 0 {
			s.Exceptions = append(s.Exceptions[:i], s.Exceptions[i+1:]...)
		}
		return
	}
	if i >= 0 {
		s.Exceptions[i].Access |= r.Access
		return
	}
	r.Allow = !s.DefaultAllow
	s.Exceptions = append(s.Exceptions, r)
}

// find returns the index of the exception with r's type and numbers, or
// -1. Like the kernel, it matches numbers exactly, wildcards included.
func (s *State) find(r Rule) int {
	for i, e := range s.Exceptions {
		if e.Type == r.Type && e.Major == r.Major && e.Minor == r.Minor {
			return i
		}
	}
	return -1
}

// Allows reports whether the state lets a process do access on the device
// typ major:minor (for tests and for reading back a v1 list).
func (s *State) Allows(typ Type, major, minor int64, access Access) bool {
	for _, e := range s.Exceptions {
		if e.Type != typ ||
			e.Major != Wildcard && e.Major != major ||
			e.Minor != Wildcard && e.Minor != minor {
			continue
		}
		// One exception must cover the whole request (match_exception
		// in security/device_cgroup.c).
		if access&^e.Access == 0 {
			return !s.DefaultAllow
		}
	}
	return s.DefaultAllow
}

// ParseV1List reads a v1 devices.list. A cgroup that allows everything by
// default lists only "a *:* rwm" and hides its deny exceptions; such a
// list reads as allow-all with none.
func ParseV1List(list string) (State, error) {
	var s State
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if line == "" {
			continue
		}
		r, err := parseV1Line(line)
		if err != nil {
			return State{}, err
		}
		if r.Type == All {
			return State{DefaultAllow: true}, nil
		}
		r.Allow = true
		s.Exceptions = append(s.Exceptions, r)
	}
	return s, nil
}

func parseV1Line(line string) (Rule, error) {
	f := strings.Fields(line)
	if len(f) != 3 || len(f[0]) != 1 {
		return Rule{}, fmt.Errorf("parse devices.list line %q", line)
	}
	r := Rule{Type: Type(f[0][0])}
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok {
		return Rule{}, fmt.Errorf("parse devices.list line %q", line)
	}
	var err error
	if r.Major, err = parseNumber(maj); err != nil {
		return Rule{}, fmt.Errorf("parse devices.list line %q: %w", line, err)
	}
	if r.Minor, err = parseNumber(min); err != nil {
		return Rule{}, fmt.Errorf("parse devices.list line %q: %w", line, err)
	}
	if r.Access, err = ParseAccess(f[2]); err != nil {
		return Rule{}, fmt.Errorf("parse devices.list line %q: %w", line, err)
	}
	return r, nil
}

func parseNumber(s string) (int64, error) {
	if s == "*" {
		return Wildcard, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// V1Write is one line to write to devices.allow or devices.deny.
type V1Write struct {
	File string // "devices.allow" or "devices.deny"
	Line string
}

// V1Writes returns the writes that take a v1 cgroup from cur to want.
//
// With the same default on both sides only the exceptions that differ
// are written, removals first: a running container never passes through
// "deny everything" on an update, and never holds more than it had or is
// given. Changing the default needs a reset ("a"), which clears every
// exception; a reset to deny-all comes before the new allow exceptions.
func V1Writes(cur, want State) []V1Write {
	var out []V1Write
	write := func(allow bool, line string) {
		file := "devices.deny"
		if allow {
			file = "devices.allow"
		}
		out = append(out, V1Write{File: file, Line: line})
	}

	// An allow-all list hides its exceptions, so they are not known.
	reset := cur.DefaultAllow != want.DefaultAllow || cur.DefaultAllow
	if reset {
		write(want.DefaultAllow, "a")
		cur = State{DefaultAllow: want.DefaultAllow}
	}
	exception := !want.DefaultAllow

	for _, c := range cur.Exceptions {
		w := want.find(c)
		var keep Access
		if w >= 0 {
			keep = want.Exceptions[w].Access
		}
		if drop := c.Access &^ keep; drop != 0 {
			r := c
			r.Access = drop
			write(!exception, r.v1Line())
		}
	}
	for _, w := range want.Exceptions {
		c := cur.find(w)
		var have Access
		if c >= 0 {
			have = cur.Exceptions[c].Access
		}
		if add := w.Access &^ have; add != 0 {
			r := w
			r.Access = add
			write(exception, r.v1Line())
		}
	}
	return out
}
