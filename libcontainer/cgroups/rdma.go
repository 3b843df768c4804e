package cgroups

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SetRdma writes rdma.max, one "DEVICE hca_handle=N hca_object=N" line
// per device; an unset count is "max". v1 and v2 share the format.
func SetRdma(dir string, limits map[string]specs.LinuxRdma) error {
	devs := make([]string, 0, len(limits))
	for dev := range limits {
		devs = append(devs, dev)
	}
	sort.Strings(devs)
	for _, dev := range devs {
		l := limits[dev]
		if strings.ContainsAny(dev, " \n") || dev == "" {
			return fmt.Errorf("rdma: invalid device name %q", dev)
		}
		line := fmt.Sprintf("%s hca_handle=%s hca_object=%s", dev,
			rdmaCount(l.HcaHandles), rdmaCount(l.HcaObjects))
		if err := WriteFile(dir, "rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}

func rdmaCount(v *uint32) string {
	if v == nil {
		return "max"
	}
	return strconv.FormatUint(uint64(*v), 10)
}

// StatRdma reads rdma.current and rdma.max. A missing controller is not
// an error.
func StatRdma(dir string, s *Stats) error {
	cur, err := readRdma(dir, "rdma.current")
	if err != nil {
		return nil
	}
	max, err := readRdma(dir, "rdma.max")
	if err != nil {
		return err
	}
	s.Rdma = RdmaStats{Current: cur, Limit: max}
	return nil
}

// readRdma parses "DEVICE hca_handle=N hca_object=N" lines.
func readRdma(dir, file string) ([]RdmaEntry, error) {
	data, err := ReadFile(dir, file)
	if err != nil {
		return nil, err
	}
	var out []RdmaEntry
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		e := RdmaEntry{Device: f[0]}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n := uint64(math.MaxUint32)
			if v != "max" {
				if n, err = strconv.ParseUint(v, 10, 32); err != nil {
					return nil, fmt.Errorf("parse %s line %q: %w", file,
						line, err)
				}
			}
			switch k {
			case "hca_handle":
				e.HcaHandles = uint32(n)
			case "hca_object":
				e.HcaObjects = uint32(n)
			}
		}
		out = append(out, e)
	}
	return out, nil
}
