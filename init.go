package main

import (
	"fmt"
	"os"

	"github.com/towel-runtime/towel/libcontainer"
	// The C stage runs before main when _TOWEL_INITPIPE is set.
	_ "github.com/towel-runtime/towel/libcontainer/nsenter"
)

// initMain is the hidden `init` command: the container's first process,
// and every exec'd one, until it execs the user's program.
func initMain() {
	err := libcontainer.Init()
	fmt.Fprintln(os.Stderr, "init:", err)
	os.Exit(1)
}
