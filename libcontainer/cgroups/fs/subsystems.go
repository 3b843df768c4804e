package fs

import (
	"strings"
)

// subsystems are the controllers Set and Stats visit, in the order they
// are written.
var subsystems = []subsystem{
	cpusetGroup{}, devicesGroup{}, memoryGroup{}, cpuGroup{},
	cpuacctGroup{}, pidsGroup{}, blkioGroup{}, hugetlbGroup{},
	netClsGroup{}, netPrioGroup{}, joinOnly("perf_event"), freezerGroup{},
	rdmaGroup{}, joinOnly("misc"), joinOnly("name=systemd"),
}

func containsWord(s, word string) bool {
	for _, w := range strings.Fields(s) {
		if w == word {
			return true
		}
	}
	return false
}
