package intelrdt

import (
	"fmt"
	"strconv"
	"strings"
)

// schemaLine is one line of a schemata file
// (Documentation/arch/x86/resctrl.rst, "Schemata files"):
//
//	L3:0=fff;1=fff0
//	MB:0=100;1=50
//
// The kernel pads the resource name with spaces on the left when it
// prints the file.
type schemaLine struct {
	resource string
	domains  map[string]string // domain id -> value, as written
	order    []string          // domain ids in the order given
}

// parseSchemata parses schemata lines; blank lines are skipped.
func parseSchemata(s string) ([]schemaLine, error) {
	var lines []schemaLine
	for _, raw := range strings.Split(s, "\n") {
		text := strings.TrimSpace(raw)
		if text == "" {
			continue
		}
		res, list, ok := strings.Cut(text, ":")
		res = strings.TrimSpace(res)
		if !ok || res == "" || strings.ContainsAny(res, " \t=;") {
			return nil, fmt.Errorf("schema line %q: want "+
				"RESOURCE:id=value;...", text)
		}
		l := schemaLine{resource: res, domains: map[string]string{}}
		for _, d := range strings.Split(list, ";") {
			id, val, ok := strings.Cut(strings.TrimSpace(d), "=")
			id, val = strings.TrimSpace(id), strings.TrimSpace(val)
			if !ok || id == "" || val == "" {
				return nil, fmt.Errorf("schema line %q: domain %q: "+
					"want id=value", text, d)
			}
			if _, dup := l.domains[id]; dup {
				return nil, fmt.Errorf("schema line %q: domain %s "+
					"given twice", text, id)
			}
			l.domains[id] = val
			l.order = append(l.order, id)
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// matchSchemata checks that every domain value in want equals the one in
// have. Values are compared as numbers, since the kernel prints them its
// own way (no leading zeros): hexadecimal bit masks for cache resources,
// decimal for memory bandwidth ("MB").
func matchSchemata(want, have []schemaLine) error {
	for _, w := range want {
		var h *schemaLine
		for i := range have {
			if have[i].resource == w.resource {
				h = &have[i]
			}
		}
		if h == nil {
			return fmt.Errorf("the group has no %s line", w.resource)
		}
		base := 16
		if strings.HasPrefix(w.resource, "MB") {
			base = 10
		}
		for _, id := range w.order {
			got, ok := h.domains[id]
			if !ok {
				return fmt.Errorf("the group has no %s domain %s",
					w.resource, id)
			}
			if !sameValue(w.domains[id], got, base) {
				return fmt.Errorf("%s domain %s is %s, the config wants %s",
					w.resource, id, got, w.domains[id])
			}
		}
	}
	return nil
}

func sameValue(a, b string, base int) bool {
	x, errA := strconv.ParseUint(a, base, 64)
	y, errB := strconv.ParseUint(b, base, 64)
	if errA != nil || errB != nil {
		return a == b
	}
	return x == y
}
