package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer"
)

var listCommand = cli.Command{
	Name:  "list",
	Usage: "lists containers started by runc with the given root",
	ArgsUsage: `

Where the given root is specified via the global option "--root"
(default: "/run/runc").

EXAMPLE 1:
To list containers created via the default "--root":
       # runc list

EXAMPLE 2:
To list containers created using a non-default value for "--root":
       # runc --root value list`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "format, f", Value: "table",
			Usage: `select one of: table or json (default: "table")`},
		cli.BoolFlag{Name: "quiet, q",
			Usage: "display only container IDs"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0, exactArgs); err != nil {
			return err
		}
		list, err := listContainers(ctx)
		if err != nil {
			return err
		}
		if ctx.Bool("quiet") {
			for _, s := range list {
				fmt.Println(s.ID)
			}
			return nil
		}
		switch ctx.String("format") {
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range list {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID,
					s.InitProcessPid, s.Status, s.Bundle,
					s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		case "json":
			if list == nil {
				list = []listEntry{}
			}
			return json.NewEncoder(os.Stdout).Encode(list)
		default:
			return errors.New("invalid format option")
		}
	},
}

// listEntry is one container as `list --format json` prints it.
type listEntry struct {
	Version        string            `json:"ociVersion"`
	ID             string            `json:"id"`
	InitProcessPid int               `json:"pid"`
	Status         string            `json:"status"`
	Bundle         string            `json:"bundle"`
	Rootfs         string            `json:"rootfs"`
	Created        time.Time         `json:"created"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Owner          string            `json:"owner"`
}

func listContainers(ctx *cli.Context) ([]listEntry, error) {
	root, err := rootDir(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []listEntry
	for _, e := range entries {
		// Anything whose name is not a container id (the seccomp
		// cache) is not a container.
		if !e.IsDir() || libcontainer.ValidateID(e.Name()) != nil {
			continue
		}
		c, err := libcontainer.Load(root, e.Name())
		if err != nil {
			logrus.Warnf("load container %s: %v", e.Name(), err)
			continue
		}
		cs, err := stateOf(c)
		if err != nil {
			logrus.Warnf("state of container %s: %v", e.Name(), err)
			continue
		}
		out = append(out, listEntry{
			Version:        cs.Version,
			ID:             cs.ID,
			InitProcessPid: cs.InitProcessPid,
			Status:         cs.Status,
			Bundle:         cs.Bundle,
			Rootfs:         cs.Rootfs,
			Created:        c.State().Created,
			Annotations:    cs.Annotations,
			Owner:          cs.Owner,
		})
	}
	return out, nil
}
