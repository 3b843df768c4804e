// Command rawsyscall makes the syscalls named by number on its command
// line, each with zero arguments, and prints one line for each: the
// number and the errno name the kernel (or a seccomp filter) answered
// with, or "ok". The seccomp tests use it to call syscalls no shell
// utility makes, such as numbers past the end of a profile.
//
//	rawsyscall NR...
package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rawsyscall NR...")
		os.Exit(2)
	}
	for _, arg := range os.Args[1:] {
		nr, err := strconv.ParseUint(arg, 10, 32)
		if err != nil {
			fmt.Fprintf(os.Stderr, "rawsyscall: %q is not a number\n", arg)
			os.Exit(2)
		}
		_, _, errno := unix.RawSyscall(uintptr(nr), 0, 0, 0)
		if errno == 0 {
			fmt.Println(nr, "ok")
			continue
		}
		fmt.Println(nr, unix.ErrnoName(errno))
	}
}
