package main

import (
	"errors"

	"github.com/urfave/cli"
)

// TODO: checkpoint is not implemented yet.
var checkpointCommand = cli.Command{
	Name:  "checkpoint",
	Usage: "(checkpoint is not implemented yet)",
	Action: func(ctx *cli.Context) error {
		return errors.New("checkpoint is not implemented yet")
	},
}
