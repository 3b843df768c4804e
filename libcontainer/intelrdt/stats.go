package intelrdt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Stats are the resctrl figures of a container, in the JSON form of the
// "intel_rdt" object of a `runc events` stats event.
type Stats struct {
	// L3CacheInfo is info/L3 of the host, when it has cache allocation.
	L3CacheInfo *L3CacheInfo `json:"l3_cache_info,omitempty"`
	// L3CacheSchemaRoot and L3CacheSchema are the L3 lines of the root
	// group's schemata and of the container's group.
	L3CacheSchemaRoot string `json:"l3_cache_schema_root,omitempty"`
	L3CacheSchema     string `json:"l3_cache_schema,omitempty"`

	// MemBwInfo is info/MB, when the host has bandwidth allocation.
	MemBwInfo *MemBwInfo `json:"mem_bw_info,omitempty"`
	// MemBwSchemaRoot and MemBwSchema are the MB lines of the root
	// group's schemata and of the container's group.
	MemBwSchemaRoot string `json:"mem_bw_schema_root,omitempty"`
	MemBwSchema     string `json:"mem_bw_schema,omitempty"`

	// MBMStats and CMTStats have one entry per L3 domain (mon_data/
	// mon_L3_NN), when the config enabled that monitoring.
	MBMStats *[]MBMNumaNodeStats `json:"mbm_stats,omitempty"`
	CMTStats *[]CMTNumaNodeStats `json:"cmt_stats,omitempty"`
}

// L3CacheInfo is the host's L3 allocation capability (info/L3).
type L3CacheInfo struct {
	CbmMask    string `json:"cbm_mask,omitempty"`
	MinCbmBits uint64 `json:"min_cbm_bits,omitempty"`
	NumClosids uint64 `json:"num_closids,omitempty"`
}

// MemBwInfo is the host's memory bandwidth allocation capability
// (info/MB).
type MemBwInfo struct {
	BandwidthGran uint64 `json:"bandwidth_gran,omitempty"`
	DelayLinear   uint64 `json:"delay_linear,omitempty"`
	MinBandwidth  uint64 `json:"min_bandwidth,omitempty"`
	NumClosids    uint64 `json:"num_closids,omitempty"`
}

// MBMNumaNodeStats are one L3 domain's memory bandwidth counters (bytes).
type MBMNumaNodeStats struct {
	MBMTotalBytes uint64 `json:"mbm_total_bytes"`
	MBMLocalBytes uint64 `json:"mbm_local_bytes"`
}

// CMTNumaNodeStats is one L3 domain's cache occupancy (bytes).
type CMTNumaNodeStats struct {
	LLCOccupancy uint64 `json:"llc_occupancy"`
}

// Stats reads the container's resctrl figures.
func (m *Manager) Stats() (*Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	rootLines, err := readLines(filepath.Join(m.root, "schemata"))
	if err != nil {
		return nil, err
	}
	lines, err := readLines(filepath.Join(m.Path(), "schemata"))
	if err != nil {
		return nil, err
	}

	s := &Stats{}
	info := filepath.Join(m.root, "info")
	if dirExists(filepath.Join(info, "L3")) {
		l3 := &L3CacheInfo{}
		l3.CbmMask, err = readString(filepath.Join(info, "L3", "cbm_mask"))
		if err == nil {
			l3.MinCbmBits, err = readUint(info, "L3", "min_cbm_bits")
		}
		if err == nil {
			l3.NumClosids, err = readUint(info, "L3", "num_closids")
		}
		if err != nil {
			return nil, err
		}
		s.L3CacheInfo = l3
		s.L3CacheSchemaRoot = lineOf(rootLines, "L3")
		s.L3CacheSchema = lineOf(lines, "L3")
	}
	if dirExists(filepath.Join(info, "MB")) {
		mb := &MemBwInfo{}
		for _, f := range []struct {
			name string
			dst  *uint64
		}{
			{"bandwidth_gran", &mb.BandwidthGran},
			{"delay_linear", &mb.DelayLinear},
			{"min_bandwidth", &mb.MinBandwidth},
			{"num_closids", &mb.NumClosids},
		} {
			if *f.dst, err = readUint(info, "MB", f.name); err != nil {
				return nil, err
			}
		}
		s.MemBwInfo = mb
		s.MemBwSchemaRoot = lineOf(rootLines, "MB")
		s.MemBwSchema = lineOf(lines, "MB")
	}

	if !m.cfg.EnableCMT && !m.cfg.EnableMBM {
		return s, nil
	}
	monDir := m.monPath()
	if monDir == "" {
		monDir = m.Path()
	}
	domains, err := filepath.Glob(filepath.Join(monDir, "mon_data",
		"mon_L3_*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(domains)
	var mbm []MBMNumaNodeStats
	var cmt []CMTNumaNodeStats
	for _, d := range domains {
		if m.cfg.EnableMBM {
			var n MBMNumaNodeStats
			n.MBMTotalBytes, err = readUint(d, "mbm_total_bytes")
			if err == nil {
				n.MBMLocalBytes, err = readUint(d, "mbm_local_bytes")
			}
			if err != nil {
				return nil, err
			}
			mbm = append(mbm, n)
		}
		if m.cfg.EnableCMT {
			occ, err := readUint(d, "llc_occupancy")
			if err != nil {
				return nil, err
			}
			cmt = append(cmt, CMTNumaNodeStats{LLCOccupancy: occ})
		}
	}
	if m.cfg.EnableMBM {
		s.MBMStats = &mbm
	}
	if m.cfg.EnableCMT {
		s.CMTStats = &cmt
	}
	return s, nil
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func readString(p string) (string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("intelRdt: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

func readUint(elem ...string) (uint64, error) {
	p := filepath.Join(elem...)
	s, err := readString(p)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// A monitoring counter reads "Unavailable" or "Error" while the
		// hardware has no value for it.
		if s == "Unavailable" || s == "Error" {
			return 0, nil
		}
		return 0, fmt.Errorf("intelRdt: parse %s: %w", p, err)
	}
	return v, nil
}

func readLines(p string) ([]string, error) {
	s, err := readString(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("intelRdt: group gone: %w", err)
	}
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	return lines, nil
}

// lineOf returns the line for resource res exactly ("L3:...", not
// "L3CODE:..."), or the first line of a variant of it (CDP splits L3
// into L3CODE and L3DATA).
func lineOf(lines []string, res string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, res+":") {
			return l
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, res) {
			return l
		}
	}
	return ""
}
