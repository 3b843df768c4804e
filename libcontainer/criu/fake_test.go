package criu

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v6/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// The test binary doubles as a fake criu: run as "criu" (through a
// symlink in a directory put first in PATH) it plays the part that
// fakeCriuScript names, so that the driver can be tested against answers
// a real criu rarely gives.
const fakeCriuScript = "TOWEL_FAKE_CRIU"

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "criu" {
		os.Exit(fakeCriu(os.Getenv(fakeCriuScript), os.Args[1:]))
	}
	os.Exit(m.Run())
}

// useFakeCriu makes "criu" in PATH this test binary, playing script.
func useFakeCriu(t *testing.T, script string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(self, filepath.Join(dir, "criu")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv(fakeCriuScript, script)
}

// fakeCriu answers `criu check` and `criu swrk 3`. script is a list of
// words separated by commas:
//
//	check-fails      `criu check` fails as criu 3.17 does on Linux 6.18
//	version=M.m      the VERSION answer
//	notify=NAME      send notification NAME before answering the request
//	                 (orphan-pts-master carries the read end of a pipe
//	                 holding "pty"); may repeat, in order
//	fail=MESSAGE     answer the request with success=false and MESSAGE
//	no-memtrack      FEATURE_CHECK answers that memory tracking is missing
func fakeCriu(script string, args []string) int {
	words := strings.Split(script, ",")
	has := func(w string) bool {
		for _, x := range words {
			if x == w {
				return true
			}
		}
		return false
	}
	value := func(key string) []string {
		var vals []string
		for _, x := range words {
			if v, ok := strings.CutPrefix(x, key+"="); ok {
				vals = append(vals, v)
			}
		}
		return vals
	}

	if len(args) > 0 && args[0] == "check" {
		if has("check-fails") {
			fmt.Fprintln(os.Stderr, "Error (criu/vdso.c:381): vdso: "+
				"Unexpected rt vDSO area bounds")
			fmt.Fprintln(os.Stderr, "Error (criu/crtools.c:260): Could "+
				"not initialize kernel features detection.")
			return 1
		}
		fmt.Println("Looks good.")
		return 0
	}
	if len(args) != 2 || args[0] != "swrk" {
		return 2
	}
	fd, err := strconv.Atoi(args[1])
	if err != nil {
		return 2
	}

	buf := make([]byte, 1<<16)
	n, err := unix.Read(fd, buf)
	if err != nil || n == 0 {
		return 3
	}
	req := &rpc.CriuReq{}
	if err := proto.Unmarshal(buf[:n], req); err != nil {
		return 3
	}
	send := func(resp *rpc.CriuResp, oob []byte) bool {
		data, err := proto.Marshal(resp)
		if err != nil {
			return false
		}
		return unix.Sendmsg(fd, data, oob, nil, 0) == nil
	}
	typ := req.GetType()

	if typ == rpc.CriuReqType_VERSION {
		major, minor := int32(4), int32(1)
		if v := value("version"); len(v) > 0 {
			fmt.Sscanf(v[0], "%d.%d", &major, &minor)
		}
		send(&rpc.CriuResp{Type: &typ, Success: proto.Bool(true),
			Version: &rpc.CriuVersion{MajorNumber: &major,
				MinorNumber: &minor}}, nil)
		return 0
	}
	if typ == rpc.CriuReqType_FEATURE_CHECK {
		send(&rpc.CriuResp{Type: &typ, Success: proto.Bool(true),
			Features: &rpc.CriuFeatures{
				MemTrack:  proto.Bool(!has("no-memtrack")),
				LazyPages: proto.Bool(true)}}, nil)
		return 0
	}

	for _, name := range value("notify") {
		name := name
		nt := rpc.CriuReqType_NOTIFY
		resp := &rpc.CriuResp{Type: &nt, Success: proto.Bool(true),
			Notify: &rpc.CriuNotify{Script: &name, Pid: proto.Int32(42)}}
		var oob []byte
		if name == "orphan-pts-master" {
			var p [2]int
			if unix.Pipe(p[:]) != nil {
				return 4
			}
			unix.Write(p[1], []byte("pty"))
			unix.Close(p[1])
			oob = unix.UnixRights(p[0])
		}
		if !send(resp, oob) {
			return 4
		}
		n, err := unix.Read(fd, buf)
		if err != nil || n == 0 {
			return 4
		}
		ack := &rpc.CriuReq{}
		if proto.Unmarshal(buf[:n], ack) != nil || !ack.GetNotifySuccess() {
			return 4
		}
	}
	if msg := value("fail"); len(msg) > 0 {
		send(&rpc.CriuResp{Type: &typ, Success: proto.Bool(false),
			CrErrmsg: &msg[0]}, nil)
		return 1
	}
	send(&rpc.CriuResp{Type: &typ, Success: proto.Bool(true)}, nil)
	return 0
}
