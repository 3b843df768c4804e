package libcontainer

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// SendFd sends an fd (a pty master, a pidfd) over the unix socket at path, as runc's
// --console-socket contract says: one message whose data is the
// terminal's name and whose SCM_RIGHTS carries the fd.
func SendFd(path string, master *os.File) error {
	conn, err := net.DialUnix("unix", nil,
		&net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	defer conn.Close()
	name := master.Name()
	if name == "" {
		name = "/dev/ptmx"
	}
	rights := unix.UnixRights(int(master.Fd()))
	if _, _, err := conn.WriteMsgUnix([]byte(name), rights, nil); err != nil {
		return fmt.Errorf("send console to %s: %w", path, err)
	}
	return nil
}
