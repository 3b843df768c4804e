package main

import (
	"errors"

	"github.com/urfave/cli"
)

// TODO: events is not implemented yet.
var eventsCommand = cli.Command{
	Name:  "events",
	Usage: "(events is not implemented yet)",
	Action: func(ctx *cli.Context) error {
		return errors.New("events is not implemented yet")
	},
}
