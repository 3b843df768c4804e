package nsenter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestEncodeLaysOutPaddedAttributes(t *testing.T) {
	b := Bootstrap{
		CloneFlags: unix.CLONE_NEWNS | unix.CLONE_NEWPID,
		NsPaths:    []NsPath{{Flag: unix.CLONE_NEWNET, Path: "/x"}},
		JoinPidfd:  -1,
	}
	msg := b.Encode()
	total := binary.LittleEndian.Uint32(msg)
	if int(total) != len(msg)-4 {
		t.Fatalf("length %d, body %d", total, len(msg)-4)
	}
	body := msg[4:]
	var types []uint16
	for off := 0; off < len(body); {
		l := int(binary.LittleEndian.Uint16(body[off:]))
		types = append(types, binary.LittleEndian.Uint16(body[off+2:]))
		if l < 4 {
			t.Fatalf("attribute length %d", l)
		}
		off += (l + 3) &^ 3
	}
	want := []uint16{attrCloneFlags, attrNsPath}
	if len(types) != len(want) || types[0] != want[0] || types[1] != want[1] {
		t.Fatalf("attribute types %v, want %v", types, want)
	}
	if len(body)%4 != 0 {
		t.Fatalf("body of %d bytes is not padded", len(body))
	}
}

func TestEncodeJoinPidfdOnlyWhenSet(t *testing.T) {
	without := (&Bootstrap{JoinPidfd: -1}).Encode()
	with := (&Bootstrap{JoinPidfd: 5, JoinFlags: unix.CLONE_NEWNS}).Encode()
	if len(with) != len(without)+16 {
		t.Fatalf("pidfd and flags should add two 8-byte attributes: %d vs %d",
			len(with), len(without))
	}
}

func TestReadMessageTurnsStageErrorIntoError(t *testing.T) {
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, []uint32{SyncErr, 9})
	buf.WriteString("setns: no")
	_, _, err := ReadMessage(&buf)
	if !errors.Is(err, ErrStage) || err.Error() != "nsenter: setns: no" {
		t.Fatalf("got %v", err)
	}
}

func TestReadMessagePid(t *testing.T) {
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, []uint32{SyncPid, 1234})
	code, v, err := ReadMessage(&buf)
	if err != nil || code != SyncPid || v != 1234 {
		t.Fatalf("got %#x %d %v", code, v, err)
	}
}
