package cgroups

import specs "github.com/opencontainers/runtime-spec/specs-go"

// The conversions below are the ones the runtime-spec gives for applying
// v1-style values on a cgroup v2 host (config-linux.md, "Unified" and the
// runc "cgroup v2" conversion table).

// ConvertCPUSharesToWeight maps cpu.shares [2, 262144] onto cpu.weight
// [1, 10000] linearly. 0 means unset and stays 0.
func ConvertCPUSharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// ConvertBlkioWeightToIOWeight maps blkio.weight [10, 1000] onto io.weight
// [1, 10000] linearly. 0 means unset and stays 0.
func ConvertBlkioWeightToIOWeight(weight uint64) uint64 {
	if weight == 0 {
		return 0
	}
	if weight < 10 {
		weight = 10
	}
	if weight > 1000 {
		weight = 1000
	}
	return 1 + (weight-10)*9999/990
}

// ConvertMemorySwapToV2 turns the v1 memory+swap limit (memsw) into the v2
// swap-only limit for memory.swap.max, given the memory limit. Both use -1
// for unlimited and 0 for unset; the result is "" when nothing is to be
// written.
func ConvertMemorySwapToV2(memswLimit, memLimit int64) (string, error) {
	switch {
	case memLimit == -1 && memswLimit == 0:
		// As on v1: unlimited memory with swap unset lifts both limits.
		return "max", nil
	case memswLimit == 0:
		return "", nil
	case memswLimit == -1:
		return "max", nil
	case memLimit == -1:
		// Memory is unlimited but memsw is not: there is no v2 value that
		// caps memory+swap together.
		return "", errSwapUnlimitedMemory
	case memLimit == 0:
		return "", errSwapWithoutMemory
	case memswLimit < memLimit:
		return "", errSwapBelowMemory
	}
	return FormatInt(memswLimit - memLimit), nil
}

// PidsLimit is what pids.max gets for p: "" to leave it (0: unset,
// as in runc 1.2), "max" for a negative limit, else the number. v1 and v2
// share the file's format.
func PidsLimit(p *specs.LinuxPids) string {
	switch {
	case p == nil || p.Limit == 0:
		return ""
	case p.Limit < 0:
		return "max"
	}
	return FormatInt(p.Limit)
}
