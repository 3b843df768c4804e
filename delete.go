package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer"
)

var deleteCommand = cli.Command{
	Name:  "delete",
	Usage: "delete any resources held by the container often used with detached container",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name for the instance of the container.

EXAMPLE:
For example, if the container id is "ubuntu01" and runc list currently shows the
status of "ubuntu01" as "stopped" the following will delete resources held for
"ubuntu01" removing "ubuntu01" from the runc list of containers:

       # runc delete ubuntu01`,
	Flags: []cli.Flag{
		cli.BoolFlag{Name: "force, f",
			Usage: "Forcibly deletes the container if it is still running (uses SIGKILL)"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		id := ctx.Args().First()
		force := ctx.Bool("force")
		c, err := getContainer(ctx)
		if err != nil {
			if errors.Is(err, libcontainer.ErrNotExist) && force {
				// Nothing to delete; make sure no stray dir remains.
				if root, rerr := rootDir(ctx); rerr == nil &&
					libcontainer.ValidateID(id) == nil {
					_ = os.RemoveAll(filepath.Join(root, id))
				}
				return nil
			}
			return err
		}
		status, err := c.Status()
		if err != nil {
			return err
		}
		switch status {
		case libcontainer.Stopped, libcontainer.Created:
			// runc deletes a created container without --force.
			return c.Destroy()
		default:
			if !force {
				return fmt.Errorf("cannot delete container %s that is "+
					"not stopped: %s", id, status)
			}
			return c.Destroy()
		}
	},
}
