package nsenter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Attribute types of the bootstrap message; keep in step with nsexec.h.
const (
	attrCloneFlags  = 1
	attrNsPath      = 2
	attrJoinPidfd   = 3
	attrJoinFlags   = 4
	attrTimeOffsets = 5
)

// Messages the C stage sends to the parent; keep in step with nsexec.h.
const (
	SyncUsermapReq uint32 = 0x40
	SyncUsermapAck uint32 = 0x41
	SyncPid        uint32 = 0x50
	SyncErr        uint32 = 0xFF
)

// NsPath is a namespace to join by path.
type NsPath struct {
	Flag uintptr // CLONE_NEW* of the namespace kind
	Path string
}

// Bootstrap is what the C stage needs to know, sent as one message.
type Bootstrap struct {
	// CloneFlags are the namespaces to create (CLONE_NEW*).
	CloneFlags uintptr

	// NsPaths are namespaces to join by path before creating new ones.
	NsPaths []NsPath

	// JoinPidfd, when >= 0, is the fd number (in the child) of a pidfd
	// whose namespaces selected by JoinFlags are joined with one setns(2)
	// (Linux 5.8), as `exec` does.
	JoinPidfd int
	JoinFlags uintptr

	// TimeOffsets is written to /proc/self/timens_offsets when a time
	// namespace is created, in that file's format ("monotonic SECS NSECS").
	TimeOffsets string
}

// Encode lays the message out: a little-endian u32 length, then
// attributes of (u16 length, u16 type, payload) padded to 4 bytes.
func (b *Bootstrap) Encode() []byte {
	var body []byte
	add := func(typ uint16, payload []byte) {
		l := 4 + len(payload)
		attr := make([]byte, (l+3)&^3)
		binary.LittleEndian.PutUint16(attr[0:], uint16(l))
		binary.LittleEndian.PutUint16(attr[2:], typ)
		copy(attr[4:], payload)
		body = append(body, attr...)
	}
	u32 := func(v uint32) []byte {
		return binary.LittleEndian.AppendUint32(nil, v)
	}

	add(attrCloneFlags, u32(uint32(b.CloneFlags)))
	for _, ns := range b.NsPaths {
		p := append(u32(uint32(ns.Flag)), ns.Path...)
		add(attrNsPath, append(p, 0))
	}
	if b.JoinPidfd >= 0 {
		add(attrJoinPidfd, u32(uint32(b.JoinPidfd)))
		add(attrJoinFlags, u32(uint32(b.JoinFlags)))
	}
	if b.TimeOffsets != "" {
		add(attrTimeOffsets, append([]byte(b.TimeOffsets), 0))
	}
	return append(u32(uint32(len(body))), body...)
}

// ErrStage is returned, wrapped, for a failure the C stage reported.
var ErrStage = errors.New("nsenter")

// ReadMessage reads one message of the C stage: a code and a value. A
// SyncErr message is turned into an error carrying the stage's text.
func ReadMessage(r io.Reader) (code, value uint32, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, fmt.Errorf("read from init stage: %w", err)
	}
	code = binary.LittleEndian.Uint32(hdr[0:])
	value = binary.LittleEndian.Uint32(hdr[4:])
	if code == SyncErr {
		msg := make([]byte, min(value, 4096))
		n, _ := io.ReadFull(r, msg)
		return code, 0, fmt.Errorf("%w: %s", ErrStage, msg[:n])
	}
	return code, value, nil
}

// WriteAck answers SyncUsermapReq once the maps are written.
func WriteAck(w io.Writer) error {
	var msg [8]byte
	binary.LittleEndian.PutUint32(msg[0:], SyncUsermapAck)
	_, err := w.Write(msg[:])
	return err
}
