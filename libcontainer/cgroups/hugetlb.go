package cgroups

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

var hugePageSizes = sync.OnceValue(func() []string {
	entries, err := os.ReadDir("/sys/kernel/mm/hugepages")
	if err != nil {
		return nil
	}
	var sizes []string
	for _, e := range entries {
		kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		kb, ok = strings.CutSuffix(kb, "kB")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(kb, 10, 64)
		if err != nil {
			continue
		}
		sizes = append(sizes, HugePageSizeName(n*1024))
	}
	return sizes
})

// HugePageSizes returns the huge page sizes this host has, named as in
// cgroup files ("2MB", "1GB"), from /sys/kernel/mm/hugepages, read once.
func HugePageSizes() []string { return hugePageSizes() }

// HugePageSizeName names a page size in bytes the way the hugetlb
// controller does: the largest unit of KB, MB, GB that divides it.
func HugePageSizeName(bytes uint64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for bytes >= 1024 && bytes%1024 == 0 && i < len(units)-1 {
		bytes /= 1024
		i++
	}
	return strconv.FormatUint(bytes, 10) + units[i]
}
