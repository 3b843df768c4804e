package libcontainer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The Go hand-off between the parent and init runs over the same socket
// pair as the C stage's, once that stage is done. Every message is a
// little-endian u32 length followed by a JSON syncMsg; a message may carry
// one fd (SCM_RIGHTS) on its first byte.
//
// init -> parent: syncHooks (run prestart and createRuntime hooks, then
// answer syncResume), syncMount (make the source of mount number Index,
// then answer syncFd named fdMount, see mountsource.go), syncFd (a pty
// master or seccomp listener, named by Name), syncReady (setup is done),
// syncError (setup failed, Message says why). After syncReady or
// syncError init closes its end.
type syncType string

const (
	syncHooks  syncType = "hooks"
	syncResume syncType = "resume"
	syncMount  syncType = "mount"
	syncFd     syncType = "fd"
	syncReady  syncType = "ready"
	syncError  syncType = "error"
)

// Names of the fds sent with syncFd.
const (
	fdConsole = "console"
	fdSeccomp = "seccomp"
)

type syncMsg struct {
	Type    syncType `json:"type"`
	Name    string   `json:"name,omitempty"`
	Message string   `json:"message,omitempty"`
	// Index is the mount a syncMount asks for, in Config.Mounts.
	Index int `json:"index,omitempty"`
}

const maxSyncLen = 16 << 20

// writeMsg sends v as one framed JSON message, with fd attached if >= 0.
func writeMsg(sock *os.File, v any, fd int) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	buf = append(buf, body...)
	if fd < 0 {
		_, err = sock.Write(buf)
		return err
	}
	oob := unix.UnixRights(fd)
	conn, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	err = conn.Write(func(sfd uintptr) bool {
		sendErr = unix.Sendmsg(int(sfd), buf, oob, nil, 0)
		return sendErr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return sendErr
}

// readMsg reads one framed message into v and returns the fd it carried,
// or nil.
func readMsg(sock *os.File, v any) (*os.File, error) {
	var hdr [4]byte
	oob := make([]byte, unix.CmsgSpace(4))
	conn, err := sock.SyscallConn()
	if err != nil {
		return nil, err
	}
	var n, oobn int
	var recvErr error
	err = conn.Read(func(sfd uintptr) bool {
		n, oobn, _, _, recvErr = unix.Recvmsg(int(sfd), hdr[:], oob,
			unix.MSG_CMSG_CLOEXEC)
		return recvErr != unix.EAGAIN
	})
	if err == nil {
		err = recvErr
	}
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, io.EOF
	}
	if n < len(hdr) {
		if _, err := io.ReadFull(sock, hdr[n:]); err != nil {
			return nil, err
		}
	}

	var file *os.File
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, fmt.Errorf("parse control message: %w", err)
		}
		for _, m := range msgs {
			fds, err := unix.ParseUnixRights(&m)
			if err != nil {
				continue
			}
			for _, fd := range fds {
				if file == nil {
					file = os.NewFile(uintptr(fd), "received")
				} else {
					unix.Close(fd)
				}
			}
		}
	}

	size := binary.LittleEndian.Uint32(hdr[:])
	if size > maxSyncLen {
		return file, errors.New("sync message too large")
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(sock, body); err != nil {
		return file, err
	}
	return file, json.Unmarshal(body, v)
}
