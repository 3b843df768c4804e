package cgroups

// Stats are a cgroup's usage counters. The JSON form is the "data" object
// of a `runc events` "stats" event, so the CLI can print it as it is;
// fields that runc does not print there are tagged `json:"-"`.
type Stats struct {
	CPU     CPUStats                `json:"cpu"`
	CPUSet  CPUSetStats             `json:"cpuset"`
	Memory  MemoryStats             `json:"memory"`
	Pids    PidsStats               `json:"pids"`
	Blkio   BlkioStats              `json:"blkio"`
	Hugetlb map[string]HugetlbStats `json:"hugetlb"`

	// Rdma is the rdma controller's current usage and limits, one entry
	// per device.
	Rdma RdmaStats `json:"-"`
}

// CPUStats are cumulative CPU time (nanoseconds) and CFS throttling.
type CPUStats struct {
	Usage      CPUUsage       `json:"usage,omitempty"`
	Throttling ThrottlingData `json:"throttling,omitempty"`
	PSI        *PSIStats      `json:"psi,omitempty"`

	// BurstPeriods and BurstTime (ns) count the periods in which the
	// cgroup used its CFS burst (cpu.stat nr_bursts, burst_time/usec).
	BurstPeriods uint64 `json:"-"`
	BurstTime    uint64 `json:"-"`
}

// CPUUsage is CPU time in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// ThrottlingData counts CFS periods and the time (ns) spent throttled.
type ThrottlingData struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// PSIStats are the pressure stall figures of a *.pressure file.
type PSIStats struct {
	Some PSIData `json:"some,omitempty"`
	Full PSIData `json:"full,omitempty"`
}

// PSIData is one line of a *.pressure file.
type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

// CPUSetStats are the cpuset settings as the kernel reports them.
type CPUSetStats struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

// MemoryStats are memory usage and limits in bytes.
type MemoryStats struct {
	// Cache is the page cache (v1 "cache", v2 "file").
	Cache uint64 `json:"cache,omitempty"`
	// Usage is memory use against the memory limit.
	Usage MemoryEntry `json:"usage,omitempty"`
	// Swap is what `runc events` 1.2 prints as swap: memory+swap on v1
	// (memory.memsw.*), swap alone on v2.
	Swap MemoryEntry `json:"swap,omitempty"`
	// Kernel and KernelTCP are the v1 kmem counters (empty on v2).
	Kernel    MemoryEntry `json:"kernel,omitempty"`
	KernelTCP MemoryEntry `json:"kernelTCP,omitempty"`
	// Raw is memory.stat as it is.
	Raw map[string]uint64 `json:"raw,omitempty"`
	PSI *PSIStats         `json:"psi,omitempty"`

	// SwapUsage is memory+swap on both versions (v2: memory.current +
	// memory.swap.current, limits added likewise).
	SwapUsage MemoryEntry `json:"-"`
	// SwapOnlyUsage is swap alone on both versions (v1: memsw - memory).
	SwapOnlyUsage MemoryEntry `json:"-"`
	// UseHierarchy is memory.use_hierarchy (always true on v2).
	UseHierarchy bool `json:"-"`
	// Events are the v2 memory.events counters (low, high, max, oom,
	// oom_kill) or, on v1, "oom_kill" and "under_oom" from
	// memory.oom_control.
	Events map[string]uint64 `json:"-"`
}

// MemoryEntry is one memory counter with its limit. Limit and Max read
// math.MaxUint64 when unlimited.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PidsStats are the number of tasks and the limit (0: no limit).
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioStats are block I/O counters per device and operation.
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

// BlkioEntry is one counter: Op is "Read", "Write", "Sync", "Async",
// "Discard" or "Total" (v1 names; v2 figures are mapped onto them).
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// HugetlbStats are one huge page size's usage (bytes) and failures.
type HugetlbStats struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// RdmaStats are the rdma controller's limits and current use.
type RdmaStats struct {
	Limit   []RdmaEntry
	Current []RdmaEntry
}

// RdmaEntry is one device's rdma figures; math.MaxUint32 means "max".
type RdmaEntry struct {
	Device     string
	HcaHandles uint32
	HcaObjects uint32
}

// NewStats returns Stats with its maps made.
func NewStats() *Stats {
	return &Stats{
		Hugetlb: make(map[string]HugetlbStats),
		Memory:  MemoryStats{Raw: make(map[string]uint64)},
	}
}
