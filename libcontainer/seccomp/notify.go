package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"

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
		return fmt.Errorf("send seccomp listener to %q: %w",
			listenerPath, err)
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
		return fmt.Errorf("send seccomp listener to %q: %w",
			listenerPath, err)
	}
	return nil
}

// maxStateSize bounds what ReceiveNotifyFd reads: a container state is
// small, its annotations included.
const maxStateSize = 16 << 20

// ReceiveNotifyFd is the agent's side of SendNotifyFd: it reads conn to
// its end and returns the container process state and the listener fd,
// as a file the caller owns. Any other fd that came along is closed.
func ReceiveNotifyFd(conn *net.UnixConn,
) (*specs.ContainerProcessState, *os.File, error) {
	var (
		data []byte
		fds  []int
		buf  = make([]byte, 64<<10)
		oob  = make([]byte, unix.CmsgSpace(16*4))
	)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for {
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			got, perr := parseRights(oob[:oobn])
			fds = append(fds, got...)
			if perr != nil {
				return nil, nil, perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return nil, nil, errors.New("receive seccomp listener: " +
				"control message truncated")
		}
		data = append(data, buf[:n]...)
		if len(data) > maxStateSize {
			return nil, nil, fmt.Errorf("receive seccomp listener: "+
				"state longer than %d bytes", maxStateSize)
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0 && oobn == 0) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("receive seccomp listener: %w", err)
		}
	}

	var state specs.ContainerProcessState
	if err := json.Unmarshal(data, &state); err != nil {
		return nil, nil, fmt.Errorf("receive seccomp listener: state: %w",
			err)
	}
	i := slices.Index(state.Fds, specs.SeccompFdName)
	if i < 0 || i >= len(fds) {
		return nil, nil, fmt.Errorf("receive seccomp listener: %d fds "+
			"named %q, %d received", len(state.Fds), state.Fds, len(fds))
	}
	listener := os.NewFile(uintptr(fds[i]), specs.SeccompFdName)
	fds = slices.Delete(fds, i, i+1)
	return &state, listener, nil
}

// parseRights returns the fds of the SCM_RIGHTS messages in oob.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("receive seccomp listener: %w", err)
	}
	var fds []int
	for _, msg := range msgs {
		if msg.Header.Level != unix.SOL_SOCKET ||
			msg.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msg)
		if err != nil {
			return fds, fmt.Errorf("receive seccomp listener: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}
