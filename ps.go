package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli"
)

var psCommand = cli.Command{
	Name:      "ps",
	Usage:     "ps displays the processes running inside a container",
	ArgsUsage: `<container-id> [ps options]`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "format, f", Value: "table",
			Usage: `select one of: table or json (default: "table")`},
	},
	// Everything after the id is for ps(1).
	SkipArgReorder: true,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, minArgs); err != nil {
			return err
		}
		format := ctx.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("invalid format option %q: want table "+
				"or json", format)
		}
		c, err := getContainer(ctx)
		if err != nil {
			return err
		}
		pids, err := c.Processes()
		if err != nil {
			return err
		}
		if format == "json" {
			if pids == nil {
				pids = []int{}
			}
			return json.NewEncoder(os.Stdout).Encode(pids)
		}

		psArgs := ctx.Args().Tail()
		if len(psArgs) > 0 && psArgs[0] == "--" {
			psArgs = psArgs[1:]
		}
		if len(psArgs) == 0 {
			psArgs = []string{"-ef"}
		}
		out, err := exec.Command("ps", psArgs...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("ps %s: %w: %s",
					strings.Join(psArgs, " "), err,
					strings.TrimSpace(string(ee.Stderr)))
			}
			return fmt.Errorf("ps: %w", err)
		}
		return printPsLines(os.Stdout, string(out), pids)
	},
}

// printPsLines writes ps(1)'s header and the lines whose PID column is
// one of pids to w.
func printPsLines(w io.Writer, out string, pids []int) error {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	col := -1
	for i, name := range strings.Fields(lines[0]) {
		if name == "PID" {
			col = i
			break
		}
	}
	if col < 0 {
		return errors.New("ps output has no PID column (ps options " +
			"must keep it)")
	}
	in := make(map[int]bool, len(pids))
	for _, pid := range pids {
		in[pid] = true
	}
	fmt.Fprintln(w, lines[0])
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= col {
			continue
		}
		pid, err := strconv.Atoi(fields[col])
		if err != nil {
			return fmt.Errorf("parse pid %q of ps output: %w",
				fields[col], err)
		}
		if in[pid] {
			fmt.Fprintln(w, line)
		}
	}
	return nil
}
