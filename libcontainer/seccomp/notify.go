package seccomp

import (
	"encoding/json"
	"fmt"
	"net"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SendNotifyFd gives the seccomp agent listening on the unix stream socket
// at listenerPath the listener fd of a container, as the runtime-spec
// describes for linux.seccomp.listenerPath: one message holding state as
// JSON, with fd attached as SCM_RIGHTS, then the connection is closed. The
// state's fds list is set to name that one fd (specs.SeccompFdName), and
// its ociVersion defaults to specs.Version; state itself is not changed.
// fd stays open in the caller, who closes it once the agent has it.
func SendNotifyFd(listenerPath string, state *specs.ContainerProcessState,
	fd int,
) error {
	msg := *state
	msg.Fds = []string{specs.SeccompFdName}
	if msg.Version == "" {
		msg.Version = specs.Version
	}
	data, err := json.Marshal(&msg)
	if err != nil {
		return fmt.Errorf("send seccomp listener to %q: %w", listenerPath, err)
	}

	conn, err := net.DialUnix("unix", nil,
		&net.UnixAddr{Name: listenerPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("send seccomp listener: %w", err)
	}
	defer conn.Close()

	// The fd rides on the first byte; a stream socket may take the rest
	// of a long state in more than one write.
	n, _, err := conn.WriteMsgUnix(data, unix.UnixRights(fd), nil)
	if err == nil && n < len(data) {
		_, err = conn.Write(data[n:])
	}
	if err != nil {
		return fmt.Errorf("send seccomp listener to %q: %w", listenerPath, err)
	}
	return nil
}
