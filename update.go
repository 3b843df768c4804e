package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer/intelrdt"
)

var updateCommand = cli.Command{
	Name:      "update",
	Usage:     "update container resource constraints",
	ArgsUsage: `<container-id>`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "resources, r",
			Usage: `path to the file containing the resources to update or '-' to read from the standard input

The accepted format is a runtime-spec LinuxResources object (unchanged
values can be omitted), for example:

{
  "memory": {"limit": 0, "reservation": 0, "swap": 0, "checkBeforeUpdate": true},
  "cpu": {"shares": 0, "quota": 0, "burst": 0, "period": 0,
          "realtimeRuntime": 0, "realtimePeriod": 0,
          "cpus": "", "mems": "", "idle": 0},
  "blockIO": {"weight": 0},
  "pids": {"limit": 0}
}

Note: if data is to be read from a file or the standard input, all
other options are ignored.
`},
		cli.IntFlag{Name: "blkio-weight",
			Usage: "Specifies per cgroup weight, range is from 10 to 1000"},
		cli.StringFlag{Name: "cpu-period",
			Usage: "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
		cli.StringFlag{Name: "cpu-quota",
			Usage: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
		cli.StringFlag{Name: "cpu-burst",
			Usage: "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"},
		cli.StringFlag{Name: "cpu-share, cpu-shares",
			Usage: "CPU shares (relative weight vs. other containers)"},
		cli.StringFlag{Name: "cpu-rt-period",
			Usage: "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
		cli.StringFlag{Name: "cpu-rt-runtime",
			Usage: "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
		cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
		cli.StringFlag{Name: "cpuset-mems", Usage: "Memory node(s) to use"},
		cli.StringFlag{Name: "kernel-memory", Hidden: true,
			Usage: "(obsoleted; do not use)"},
		cli.StringFlag{Name: "kernel-memory-tcp", Hidden: true,
			Usage: "(obsoleted; do not use)"},
		cli.StringFlag{Name: "memory", Usage: "Memory limit (in bytes)"},
		cli.StringFlag{Name: "cpu-idle",
			Usage: "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"},
		cli.StringFlag{Name: "memory-reservation",
			Usage: "Memory reservation or soft_limit (in bytes)"},
		cli.StringFlag{Name: "memory-swap",
			Usage: "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
		cli.IntFlag{Name: "pids-limit",
			Usage: "Maximum number of pids allowed in the container"},
		cli.StringFlag{Name: "l3-cache-schema",
			Usage: "The string of Intel RDT/CAT L3 cache schema"},
		cli.StringFlag{Name: "mem-bw-schema",
			Usage: "The string of Intel RDT/MBA memory bandwidth schema"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		c, err := getContainer(ctx)
		if err != nil {
			return err
		}
		var r *specs.LinuxResources
		if in := ctx.String("resources"); in != "" {
			r, err = readResources(in)
		} else {
			r, err = resourcesFromFlags(ctx)
		}
		if err != nil {
			return err
		}
		if err := checkIntelRdt(ctx); err != nil {
			return err
		}
		if err := c.Update(r); err != nil {
			return err
		}
		return c.UpdateIntelRdt(ctx.String("l3-cache-schema"),
			ctx.String("mem-bw-schema"))
	},
}

// readResources reads a LinuxResources JSON from path, or stdin for "-".
func readResources(path string) (*specs.LinuxResources, error) {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read resources: %w", err)
		}
		defer f.Close()
		in = f
	}
	var r specs.LinuxResources
	dec := json.NewDecoder(in)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("parse resources from %s: %w", path, err)
	}
	return &r, nil
}

// resourcesFromFlags builds the resources the flags set; a flag not
// given leaves its value nil.
func resourcesFromFlags(ctx *cli.Context) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{},
		CPU:     &specs.LinuxCPU{},
		BlockIO: &specs.LinuxBlockIO{},
	}
	if ctx.IsSet("blkio-weight") {
		v := ctx.Int("blkio-weight")
		if v < 0 || v > math.MaxUint16 {
			return nil, fmt.Errorf("invalid value for blkio-weight: %d", v)
		}
		w := uint16(v)
		r.BlockIO.Weight = &w
	}
	r.CPU.Cpus = ctx.String("cpuset-cpus")
	r.CPU.Mems = ctx.String("cpuset-mems")
	if s := ctx.String("cpu-idle"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for cpu-idle: %q", s)
		}
		r.CPU.Idle = &v
	}
	for _, f := range []struct {
		name string
		dst  **uint64
	}{
		{"cpu-period", &r.CPU.Period},
		{"cpu-burst", &r.CPU.Burst},
		{"cpu-rt-period", &r.CPU.RealtimePeriod},
		{"cpu-share", &r.CPU.Shares},
	} {
		if s := ctx.String(f.name); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: %q",
					f.name, s)
			}
			*f.dst = &v
		}
	}
	for _, f := range []struct {
		name string
		dst  **int64
	}{
		{"cpu-quota", &r.CPU.Quota},
		{"cpu-rt-runtime", &r.CPU.RealtimeRuntime},
	} {
		if s := ctx.String(f.name); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: %q",
					f.name, s)
			}
			*f.dst = &v
		}
	}
	for _, f := range []struct {
		name string
		dst  **int64
	}{
		{"memory", &r.Memory.Limit},
		{"memory-swap", &r.Memory.Swap},
		{"memory-reservation", &r.Memory.Reservation},
	} {
		if s := ctx.String(f.name); s != "" {
			v, err := parseBytes(s)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: %w",
					f.name, err)
			}
			*f.dst = &v
		}
	}
	for _, name := range []string{"kernel-memory", "kernel-memory-tcp"} {
		if ctx.String(name) != "" {
			logrus.Warnf("setting --%s is ignored", name)
		}
	}
	if ctx.IsSet("pids-limit") {
		r.Pids = &specs.LinuxPids{Limit: int64(ctx.Int("pids-limit"))}
	}
	// A section no flag touched is not rewritten.
	if reflect.ValueOf(*r.Memory).IsZero() {
		r.Memory = nil
	}
	if reflect.ValueOf(*r.CPU).IsZero() {
		r.CPU = nil
	}
	if reflect.ValueOf(*r.BlockIO).IsZero() {
		r.BlockIO = nil
	}
	return r, nil
}

var bytesPattern = regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)

// parseBytes reads a size as runc's update does: "-1" for unlimited, or a
// number with an optional binary unit ("512", "64m", "1.5GiB").
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	m := bytesPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	if m[2] != "" {
		exp := strings.Index("kmgtp", strings.ToLower(m[2])) + 1
		n *= math.Pow(1024, float64(exp))
	}
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(n), nil
}

// checkIntelRdt refuses the Intel RDT flags on a host whose resctrl does
// not have the resource they set, with runc's words.
func checkIntelRdt(ctx *cli.Context) error {
	if ctx.String("l3-cache-schema") != "" && !resctrlHas("L3") {
		return errors.New("Intel RDT/CAT: l3 cache schema is not enabled")
	}
	if ctx.String("mem-bw-schema") != "" && !resctrlHas("MB") {
		return errors.New("Intel RDT/MBA: memory bandwidth schema is not " +
			"enabled")
	}
	return nil
}

// resctrlHas reports whether resctrl is mounted with resource res
// (Documentation/arch/x86/resctrl.rst, "info" directory).
func resctrlHas(res string) bool {
	root, err := intelrdt.Root()
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(root, "info", res))
	return err == nil
}
