package fs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

type blkioGroup struct{}

func (blkioGroup) name() string { return "blkio" }

func (blkioGroup) needed(r *specs.LinuxResources) bool {
	b := r.BlockIO
	return b != nil && (b.Weight != nil || b.LeafWeight != nil ||
		len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 ||
		len(b.ThrottleWriteBpsDevice) > 0 ||
		len(b.ThrottleReadIOPSDevice) > 0 ||
		len(b.ThrottleWriteIOPSDevice) > 0)
}

// weightFiles returns the weight and per-device weight files: CFQ's
// blkio.weight, or BFQ's blkio.bfq.weight on kernels without CFQ (5.0+).
func weightFiles(dir string) (weight, weightDevice string) {
	if _, err := os.Stat(dir + "/blkio.weight"); err == nil {
		return "blkio.weight", "blkio.weight_device"
	}
	return "blkio.bfq.weight", "blkio.bfq.weight_device"
}

func (blkioGroup) set(dir string, r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	weight, weightDevice := weightFiles(dir)
	if b.Weight != nil && *b.Weight != 0 {
		err := cgroups.WriteFile(dir, weight, strconv.Itoa(int(*b.Weight)))
		if err != nil {
			return blkioErr(err, "weight")
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		err := cgroups.WriteFile(dir, "blkio.leaf_weight",
			strconv.Itoa(int(*b.LeafWeight)))
		if err != nil {
			return blkioErr(err, "leafWeight")
		}
	}
	for _, wd := range b.WeightDevice {
		dev := fmt.Sprintf("%d:%d", wd.Major, wd.Minor)
		if wd.Weight != nil && *wd.Weight != 0 {
			err := cgroups.WriteFile(dir, weightDevice,
				fmt.Sprintf("%s %d", dev, *wd.Weight))
			if err != nil {
				return blkioErr(err, "weightDevice")
			}
		}
		if wd.LeafWeight != nil && *wd.LeafWeight != 0 {
			err := cgroups.WriteFile(dir, "blkio.leaf_weight_device",
				fmt.Sprintf("%s %d", dev, *wd.LeafWeight))
			if err != nil {
				return blkioErr(err, "weightDevice leafWeight")
			}
		}
	}
	throttles := []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		for _, d := range t.devs {
			err := cgroups.WriteFile(dir, t.file,
				fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate))
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// blkioErr explains a missing weight file: the kernel's I/O scheduler
// has no proportional weights (neither CFQ nor BFQ is in use).
func blkioErr(err error, field string) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("set blockIO.%s: no I/O scheduler with weights "+
			"(CFQ or BFQ) on this kernel: %w", field, err)
	}
	return err
}

func (blkioGroup) stat(dir string, s *cgroups.Stats) error {
	// The CFQ files, else BFQ's, else the throttling layer's, which
	// counts every I/O that passes it.
	for _, prefix := range []string{"blkio.", "blkio.bfq.", "blkio.throttle."} {
		bytes, err := readBlkioStat(dir, prefix+"io_service_bytes_recursive")
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		ios, err := readBlkioStat(dir, prefix+"io_serviced_recursive")
		if err != nil {
			return err
		}
		s.Blkio.IoServiceBytesRecursive = bytes
		s.Blkio.IoServicedRecursive = ios
		if prefix != "blkio." {
			return nil
		}
		// CFQ has more.
		more := []struct {
			file string
			dst  *[]cgroups.BlkioEntry
		}{
			{"blkio.io_queued_recursive", &s.Blkio.IoQueuedRecursive},
			{"blkio.io_service_time_recursive", &s.Blkio.IoServiceTimeRecursive},
			{"blkio.io_wait_time_recursive", &s.Blkio.IoWaitTimeRecursive},
			{"blkio.io_merged_recursive", &s.Blkio.IoMergedRecursive},
			{"blkio.time_recursive", &s.Blkio.IoTimeRecursive},
			{"blkio.sectors_recursive", &s.Blkio.SectorsRecursive},
		}
		for _, m := range more {
			if e, err := readBlkioStat(dir, m.file); err == nil {
				*m.dst = e
			}
		}
		return nil
	}
	return nil
}

// readBlkioStat parses a v1 blkio stat file: "MAJ:MIN OP VALUE" lines
// (or "MAJ:MIN VALUE" for time and sectors), ending with "Total VALUE".
func readBlkioStat(dir, file string) ([]cgroups.BlkioEntry, error) {
	s, err := cgroups.ReadFile(dir, file)
	if err != nil {
		return nil, err
	}
	var out []cgroups.BlkioEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "Total" {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		var e cgroups.BlkioEntry
		var perr error
		if e.Major, perr = strconv.ParseUint(maj, 10, 64); perr != nil {
			return nil, fmt.Errorf("parse %s line %q: %w", file, line, perr)
		}
		if e.Minor, perr = strconv.ParseUint(min, 10, 64); perr != nil {
			return nil, fmt.Errorf("parse %s line %q: %w", file, line, perr)
		}
		val := f[1]
		if len(f) == 3 {
			e.Op, val = f[1], f[2]
		}
		if e.Value, perr = strconv.ParseUint(val, 10, 64); perr != nil {
			return nil, fmt.Errorf("parse %s line %q: %w", file, line, perr)
		}
		out = append(out, e)
	}
	return out, nil
}
