package fs2

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

// setIO writes blockIO. Weights go to io.bfq.weight when the BFQ
// scheduler provides it, as they are (both use 1-1000), else to io.weight
// converted to its 1-10000 range. Throttles go to io.max as
// "MAJ:MIN rbps=N", one key a write.
func setIO(dir string, r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	_, err := os.Stat(dir + "/io.bfq.weight")
	bfq := err == nil
	weight := func(w uint16) (string, string) {
		if bfq {
			return "io.bfq.weight", strconv.Itoa(int(w))
		}
		return "io.weight", cgroups.FormatUint(
			cgroups.ConvertBlkioWeightToIOWeight(uint64(w)))
	}
	if b.Weight != nil && *b.Weight != 0 {
		file, v := weight(*b.Weight)
		if err := cgroups.WriteFile(dir, file, v); err != nil {
			return ioErr(err, "weight")
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight == nil || *wd.Weight == 0 {
			continue
		}
		file, v := weight(*wd.Weight)
		line := fmt.Sprintf("%d:%d %s", wd.Major, wd.Minor, v)
		if err := cgroups.WriteFile(dir, file, line); err != nil {
			return ioErr(err, "weightDevice")
		}
	}
	throttles := []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		for _, d := range t.devs {
			// io.max reads 0 as "no I/O at all"; v1 read it as no limit.
			rate := cgroups.FormatUint(d.Rate)
			if d.Rate == 0 {
				rate = "max"
			}
			line := fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, rate)
			if err := cgroups.WriteFile(dir, "io.max", line); err != nil {
				return err
			}
		}
	}
	return nil
}

func ioErr(err error, field string) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("set blockIO.%s: the io controller has no "+
			"weights here (needs the BFQ scheduler or io.weight): %w",
			field, err)
	}
	return err
}

// statIO reads io.stat ("MAJ:MIN rbytes=N wbytes=N rios=N wios=N
// dbytes=N dios=N" lines) into the v1-shaped blkio entries.
func statIO(dir string, s *cgroups.Stats) error {
	data, err := cgroups.ReadFile(dir, "io.stat")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	ops := map[string]struct {
		op  string
		dst *[]cgroups.BlkioEntry
	}{
		"rbytes": {"Read", &s.Blkio.IoServiceBytesRecursive},
		"wbytes": {"Write", &s.Blkio.IoServiceBytesRecursive},
		"dbytes": {"Discard", &s.Blkio.IoServiceBytesRecursive},
		"rios":   {"Read", &s.Blkio.IoServicedRecursive},
		"wios":   {"Write", &s.Blkio.IoServicedRecursive},
		"dios":   {"Discard", &s.Blkio.IoServicedRecursive},
	}
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		major, err1 := strconv.ParseUint(maj, 10, 64)
		minor, err2 := strconv.ParseUint(min, 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("parse io.stat line %q", line)
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			op, ok := ops[k]
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("parse io.stat line %q: %w", line, err)
			}
			*op.dst = append(*op.dst, cgroups.BlkioEntry{Major: major,
				Minor: minor, Op: op.op, Value: n})
		}
	}
	s.Blkio.PSI = readPSI(dir, "io.pressure")
	return nil
}
