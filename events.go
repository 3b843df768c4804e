package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer"
	"github.com/towel-runtime/towel/libcontainer/cgroups"
)

// event is one line of `events` output, runc's schema: type is "stats"
// or "oom", data is the stats (absent for oom).
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// statsData is the "data" of a stats event: the cgroup counters, whose
// JSON is already runc's, and the two parts runc adds.
type statsData struct {
	*cgroups.Stats

	// IntelRdt is the resctrl figures of a container with linux.intelRdt,
	// an empty object for the others.
	IntelRdt any `json:"intel_rdt"`

	// NetworkInterfaces are counters of interfaces runc itself set up;
	// an OCI container has none, so it is always null.
	NetworkInterfaces []struct{} `json:"network_interfaces"`
}

var eventsCommand = cli.Command{
	Name:  "events",
	Usage: "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name for the instance of the container.`,
	Description: `The events command displays information about the container. By default the
information is displayed once every 5 seconds.`,
	Flags: []cli.Flag{
		cli.DurationFlag{Name: "interval", Value: 5 * time.Second,
			Usage: "set the stats collection interval"},
		cli.BoolFlag{Name: "stats",
			Usage: "display the container's stats then exit"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		interval := ctx.Duration("interval")
		if interval <= 0 {
			return errors.New("duration interval must be greater than 0")
		}
		c, err := getContainer(ctx)
		if err != nil {
			return err
		}
		status, err := c.Status()
		if err != nil {
			return err
		}
		if status == libcontainer.Stopped {
			return fmt.Errorf("container with id %s is not running", c.ID)
		}
		enc := json.NewEncoder(os.Stdout)
		if ctx.Bool("stats") {
			st, err := containerStats(c)
			if err != nil {
				return err
			}
			return enc.Encode(statsEvent(c.ID, st))
		}
		return streamEvents(ctx, c, enc, interval)
	},
}

// containerStats reads the cgroup and resctrl figures of c.
func containerStats(c *libcontainer.Container) (*statsData, error) {
	st, err := c.Stats()
	if err != nil {
		return nil, err
	}
	data := &statsData{Stats: st, IntelRdt: struct{}{}}
	rdt, err := c.IntelRdtStats()
	switch {
	case err == nil:
		data.IntelRdt = rdt
	case !errors.Is(err, libcontainer.ErrNoIntelRdt):
		return nil, err
	}
	return data, nil
}

func statsEvent(id string, data *statsData) *event {
	return &event{Type: "stats", ID: id, Data: data}
}

// streamEvents prints stats every interval and an oom event each time the
// OOM killer acts, until the container's cgroup goes away (it is
// deleted) or the container's state does.
func streamEvents(ctx *cli.Context, c *libcontainer.Container,
	enc *json.Encoder, interval time.Duration) error {

	oom, err := c.NotifyOOM(context.Background())
	if err != nil {
		return err
	}
	root, err := rootDir(ctx)
	if err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case _, ok := <-oom:
			if !ok {
				return nil
			}
			if err := enc.Encode(&event{Type: "oom", ID: c.ID}); err != nil {
				return err
			}
		case <-tick.C:
			if _, err := libcontainer.Load(root, c.ID); err != nil {
				// Deleted: nothing more will happen to it.
				if errors.Is(err, libcontainer.ErrNotExist) {
					return nil
				}
				return err
			}
			st, err := containerStats(c)
			if err != nil {
				logrus.Error(err)
				continue
			}
			if err := enc.Encode(statsEvent(c.ID, st)); err != nil {
				return err
			}
		}
	}
}
