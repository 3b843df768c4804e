package main

import (
	"errors"

	"github.com/urfave/cli"
)

// TODO: restore is not implemented yet.
var restoreCommand = cli.Command{
	Name:  "restore",
	Usage: "(restore is not implemented yet)",
	Action: func(ctx *cli.Context) error {
		return errors.New("restore is not implemented yet")
	},
}
