package main

import (
	"errors"

	"github.com/urfave/cli"
)

// TODO: ps is not implemented yet.
var psCommand = cli.Command{
	Name:  "ps",
	Usage: "(ps is not implemented yet)",
	Action: func(ctx *cli.Context) error {
		return errors.New("ps is not implemented yet")
	},
}
