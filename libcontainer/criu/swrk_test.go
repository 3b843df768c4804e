package criu

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/checkpoint-restore/go-criu/v6/rpc"
	"golang.org/x/sys/unix"
)

func TestProbeReportsMissingCriu(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := probe()
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("probe without criu: %v, want ErrNotFound", err)
	}
}

func TestProbeReportsCriuThatFailsCheck(t *testing.T) {
	useFakeCriu(t, "check-fails")
	_, err := probe()
	if !errors.Is(err, ErrUnusable) {
		t.Fatalf("probe: %v, want ErrUnusable", err)
	}
	// The last error criu printed, without its source position.
	want := "Could not initialize kernel features detection."
	if !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("probe: %q, want it to end in %q", err, want)
	}
}

func TestProbeReportsTooOldCriu(t *testing.T) {
	useFakeCriu(t, "version=3.10")
	v, err := probe()
	if !errors.Is(err, ErrTooOld) {
		t.Fatalf("probe: %v, want ErrTooOld", err)
	}
	if v != 31000 {
		t.Fatalf("probe version %d, want 31000", v)
	}
	if !strings.Contains(err.Error(), "3.16") {
		t.Fatalf("probe: %q does not name the version needed", err)
	}
}

func TestProbeAcceptsRecentCriu(t *testing.T) {
	useFakeCriu(t, "version=4.1")
	v, err := probe()
	if err != nil || v != 40100 {
		t.Fatalf("probe = %d, %v; want 40100, nil", v, err)
	}
}

func TestSwrkCallsCallbacksInOrder(t *testing.T) {
	useFakeCriu(t, "notify=network-lock,notify=post-dump,"+
		"notify=network-unlock,notify=setup-namespaces,"+
		"notify=post-restore,notify=pre-dump")
	var got []string
	cb := &Callbacks{
		Started:       func(int) error { got = append(got, "started"); return nil },
		NetworkLock:   func() error { got = append(got, "lock"); return nil },
		NetworkUnlock: func() error { got = append(got, "unlock"); return nil },
		PostDump:      func() error { got = append(got, "post-dump"); return nil },
		SetupNamespaces: func(pid int) error {
			got = append(got, "setup-namespaces")
			if pid != 42 {
				t.Errorf("setup-namespaces pid %d, want 42", pid)
			}
			return nil
		},
		PostRestore: func(pid int) error {
			got = append(got, "post-restore")
			return nil
		},
	}
	r := &swrkRun{req: testReq(rpc.CriuReqType_DUMP),
		cb: cb, statusFd: -1}
	if _, err := r.run(); err != nil {
		t.Fatal(err)
	}
	want := []string{"started", "lock", "post-dump", "unlock",
		"setup-namespaces", "post-restore"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("callbacks %v, want %v", got, want)
	}
}

func TestSwrkPassesOrphanPtsMaster(t *testing.T) {
	useFakeCriu(t, "notify=orphan-pts-master")
	var master *os.File
	cb := &Callbacks{OrphanPtsMaster: func(f *os.File) error {
		master = f
		return nil
	}}
	r := &swrkRun{req: testReq(rpc.CriuReqType_RESTORE),
		cb: cb, statusFd: -1}
	if _, err := r.run(); err != nil {
		t.Fatal(err)
	}
	if master == nil {
		t.Fatal("OrphanPtsMaster got no file")
	}
	defer master.Close()
	data, err := io.ReadAll(master)
	if err != nil || string(data) != "pty" {
		t.Fatalf("read master: %q, %v; want the fake's pipe", data, err)
	}
}

func TestSwrkWritesStatusFdWhenReady(t *testing.T) {
	useFakeCriu(t, "notify=status-ready")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The driver closes the fd it was given; hand it a duplicate.
	wfd, err := dupFd(w)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	run := &swrkRun{req: testReq(rpc.CriuReqType_DUMP),
		cb: &Callbacks{}, statusFd: wfd}
	if _, err := run.run(); err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil || string(data) != "\x00" {
		t.Fatalf("status fd got %q, %v; want one \\0 and end of file",
			data, err)
	}
}

func TestSwrkReportsCriuError(t *testing.T) {
	useFakeCriu(t, "fail=Can't dump ghost file")
	r := &swrkRun{req: testReq(rpc.CriuReqType_DUMP),
		cb: &Callbacks{}, statusFd: -1}
	_, err := r.run()
	want := "criu dump failed: Can't dump ghost file"
	if err == nil || err.Error() != want {
		t.Fatalf("run: %v, want %q", err, want)
	}
}

func TestSwrkStopsOnCallbackError(t *testing.T) {
	useFakeCriu(t, "notify=setup-namespaces,notify=post-restore")
	hookErr := errors.New("prestart hook failed")
	restored := false
	cb := &Callbacks{
		SetupNamespaces: func(int) error { return hookErr },
		PostRestore:     func(int) error { restored = true; return nil },
	}
	r := &swrkRun{req: testReq(rpc.CriuReqType_RESTORE),
		cb: cb, statusFd: -1}
	if _, err := r.run(); !errors.Is(err, hookErr) {
		t.Fatalf("run: %v, want the callback's error", err)
	}
	if restored {
		t.Fatal("a notification was handled after a callback failed")
	}
}

func TestNeedFeatureReportsMissingMemTrack(t *testing.T) {
	useFakeCriu(t, "no-memtrack")
	err := needFeature(&rpc.CriuFeatures{MemTrack: newTrue()}, "why")
	if !errors.Is(err, ErrMissingFeature) {
		t.Fatalf("needFeature: %v, want ErrMissingFeature", err)
	}
	useFakeCriu(t, "")
	if err := needFeature(&rpc.CriuFeatures{MemTrack: newTrue()},
		"why"); err != nil {
		t.Fatalf("needFeature with the feature there: %v", err)
	}
}

func newTrue() *bool {
	b := true
	return &b
}

func dupFd(f *os.File) (int, error) { return unix.Dup(int(f.Fd())) }

// testReq is a request of type typ with the options criu requires.
func testReq(typ rpc.CriuReqType) *rpc.CriuReq {
	fd := int32(-1)
	return &rpc.CriuReq{Type: &typ, Opts: &rpc.CriuOpts{ImagesDirFd: &fd}}
}

func TestFailureNamesFirstRealErrorOfLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "dump.log")
	err := os.WriteFile(log, []byte(`(00.000010) Version: 4.2.1
(00.056328) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
(00.179696) Error (criu/files-reg.c:1790): Can't lookup mount=27 for fd=1 path=/tmp/out
(00.179715) Error (criu/cr-dump.c:1545): Dump files (pid: 31732) failed with -1
(00.258763) Error (criu/cr-dump.c:1975): Dumping FAILED.
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	msg := "rlimit: Can't setup\nRLIMIT_NOFILE"
	typ := rpc.CriuReqType_DUMP
	failed := failure(&rpc.CriuResp{Type: &typ, CrErrmsg: &msg})
	got := withLog(failed, log).Error()
	want := "criu dump failed: Can't lookup mount=27 for fd=1 path=/tmp/out" +
		" (log: " + log + ")"
	if got != want {
		t.Fatalf("error\n got %q\nwant %q", got, want)
	}

	// Without a log, criu's own message, on one line.
	got = withLog(failure(&rpc.CriuResp{Type: &typ, CrErrmsg: &msg}),
		filepath.Join(t.TempDir(), "none.log")).Error()
	if strings.Contains(got, "\n") || !strings.Contains(got,
		"rlimit: Can't setup RLIMIT_NOFILE") {
		t.Fatalf("error without log: %q", got)
	}
}
