package main

import (
	"errors"

	"github.com/urfave/cli"
)

// TODO: exec is not implemented yet.
var execCommand = cli.Command{
	Name:  "exec",
	Usage: "(exec is not implemented yet)",
	Action: func(ctx *cli.Context) error {
		return errors.New("exec is not implemented yet")
	},
}
