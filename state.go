package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer"
)

// containerState is what `state` prints: runc 1.2's fields, a superset
// of the runtime-spec state.
type containerState struct {
	Version        string            `json:"ociVersion"`
	ID             string            `json:"id"`
	InitProcessPid int               `json:"pid"`
	Status         string            `json:"status"`
	Bundle         string            `json:"bundle"`
	Rootfs         string            `json:"rootfs"`
	Created        string            `json:"created"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Owner          string            `json:"owner"`
}

var stateCommand = cli.Command{
	Name:  "state",
	Usage: "output the state of a container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container.`,
	Description: `The state command outputs current state information for the
instance of a container.`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		c, err := getContainer(ctx)
		if err != nil {
			return err
		}
		cs, err := stateOf(c)
		if err != nil {
			return err
		}
		data, err := json.MarshalIndent(cs, "", "  ")
		if err != nil {
			return err
		}
		os.Stdout.Write(data)
		os.Stdout.Write([]byte("\n"))
		return nil
	},
}

func stateOf(c *libcontainer.Container) (*containerState, error) {
	oci, err := c.OCIState()
	if err != nil {
		return nil, err
	}
	st := c.State()
	cs := &containerState{
		Version:        oci.Version,
		ID:             c.ID,
		InitProcessPid: oci.Pid,
		Status:         string(oci.Status),
		Bundle:         oci.Bundle,
		Created:        st.Created.Format(time.RFC3339Nano),
		Annotations:    oci.Annotations,
		Owner:          st.Owner,
	}
	if cfg := c.Config(); cfg != nil {
		cs.Rootfs = cfg.Rootfs
	}
	return cs, nil
}
