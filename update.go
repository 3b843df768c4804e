package main

import (
	"errors"

	"github.com/urfave/cli"
)

// TODO: update is not implemented yet.
var updateCommand = cli.Command{
	Name:  "update",
	Usage: "(update is not implemented yet)",
	Action: func(ctx *cli.Context) error {
		return errors.New("update is not implemented yet")
	},
}
