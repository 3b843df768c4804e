package libcontainer

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// chownStdio gives the process's user those of its stdin, stdout and
// stderr that are pipes or fifos, as runc does, so that the process can
// reopen them: `echo >/dev/stdout` opens /proc/self/fd/1 anew, which the
// kernel checks against the pipe's owner, the caller's user. A file or a
// terminal of the host keeps its owner (runc gives those away too); the
// pty of terminal: true is chowned in setupConsole.
func chownStdio(uid int) error {
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			// A closed stdio fd is the caller's choice.
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO || int(st.Uid) == uid {
			continue
		}
		err := unix.Fchown(fd, uid, -1)
		// As for the pty: an owner or uid not mapped in the user
		// namespace, or a read-only file system, leaves it as it is.
		if err != nil && !errors.Is(err, unix.EINVAL) &&
			!errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("chown stdio fd %d to %d: %w", fd, uid, err)
		}
	}
	return nil
}
