package systemd

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/towel-runtime/towel/libcontainer/cgroups/devices"
)

// deviceGroup returns the name /proc/devices gives to major numbers of
// type typ, or "" if it lists none:
//
//	Character devices:
//	  1 mem
//	136 pts
//
//	Block devices:
//	  8 sd
func deviceGroup(typ devices.Type, major int64) (string, error) {
	f, err := os.Open("/proc/devices")
	if err != nil {
		return "", err
	}
	defer f.Close()
	var section devices.Type
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		switch line {
		case "Character devices:":
			section = devices.Char
			continue
		case "Block devices:":
			section = devices.Block
			continue
		}
		num, name, ok := strings.Cut(line, " ")
		if !ok || section != typ {
			continue
		}
		if n, err := strconv.ParseInt(num, 10, 64); err == nil && n == major {
			return strings.TrimSpace(name), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", fmt.Errorf("read /proc/devices: %w", err)
	}
	return "", nil
}
