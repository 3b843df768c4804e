// Package nsenter is the first stage of `towel init`: C code that runs
// before the Go runtime starts, joins or creates the container's
// namespaces and clones the process that becomes the container's init.
// Importing the package (for its side effect) is what installs the stage;
// it does nothing unless _TOWEL_INITPIPE is set in the environment.
//
// The Go side of the hand-off, the bootstrap message the parent writes, is
// in bootstrap.go.
package nsenter

/*
#cgo CFLAGS: -Wall
#include "nsexec.h"

__attribute__((constructor)) static void towel_init_stage(void)
{
	towel_nsexec();
}
*/
import "C"
