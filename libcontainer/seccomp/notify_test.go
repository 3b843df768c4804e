package seccomp

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// agentAnswer is what the test agent answers for one syscall: a value,
// or an errno when errno is set.
type agentAnswer struct {
	val   uint64
	errno unix.Errno
}

// testAgent listens at a socket in a temporary directory, takes one
// listener and answers its notifications from answers. It reports what
// it received on done.
type testAgent struct {
	path string
	done chan agentReport
}

type agentReport struct {
	state    *specs.ContainerProcessState
	syscalls []string
	err      error
}

func startTestAgent(t *testing.T, answers map[string]agentAnswer) *testAgent {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	agent := &testAgent{path: path, done: make(chan agentReport, 1)}

	go func() {
		var report agentReport
		defer func() { agent.done <- report }()
		conn, err := ln.AcceptUnix()
		if err != nil {
			report.err = err
			return
		}
		state, listener, err := ReceiveNotifyFd(conn)
		conn.Close()
		if err != nil {
			report.err = err
			return
		}
		defer listener.Close()
		report.state = state

		fd := libseccomp.ScmpFd(listener.Fd())
		for {
			req, err := libseccomp.NotifReceive(fd)
			if errors.Is(err, unix.ENOENT) {
				return // the filtered process is gone
			}
			if err != nil {
				report.err = err
				return
			}
			name, _ := req.Data.Syscall.GetNameByArch(req.Data.Arch)
			report.syscalls = append(report.syscalls, name)
			answer := answers[name]
			resp := &libseccomp.ScmpNotifResp{ID: req.ID,
				Error: int32(answer.errno), Val: answer.val}
			if err := libseccomp.NotifRespond(fd, resp); err != nil {
				report.err = err
				return
			}
		}
	}()
	return agent
}

func TestNotifyRoundTripsThroughTheAgent(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flags []specs.LinuxSeccompFlag
	}{
		{"no flags", nil},
		{"with TSYNC, which needs TSYNC_ESRCH next to a listener",
			[]specs.LinuxSeccompFlag{flagTsync}},
		{"with WAIT_KILLABLE_RECV", []specs.LinuxSeccompFlag{
			specs.LinuxSeccompFlagWaitKillableRecv}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			agent := startTestAgent(t, map[string]agentAnswer{
				"getppid": {val: 4242},
				"getpgid": {errno: unix.EXDEV},
			})
			profile := oneRule(specs.ActNotify, nil, "getppid", "getpgid")
			profile.ListenerPath = agent.path
			profile.ListenerMetadata = "hello agent"
			profile.Flags = tt.flags
			c := runChild(t, childPlan{
				NoNewPrivs:   true,
				Profile:      profile,
				NotifySocket: agent.path,
				Calls: []rawCall{
					{Nr: sysno(t, "getppid")},
					{Nr: sysno(t, "getpgid")},
					{Nr: sysno(t, "getpid")},
				},
			})
			results := c.mustReport(t).Results
			if results[0].Ret != 4242 || results[0].Errno != 0 {
				t.Errorf("getppid: %+v, want 4242 from the agent",
					results[0])
			}
			if results[1].Errno != unix.EXDEV {
				t.Errorf("getpgid: %+v, want EXDEV from the agent",
					results[1])
			}
			if int(results[2].Ret) != c.state.Pid() {
				t.Errorf("getpid: %+v, want %d without the agent",
					results[2], c.state.Pid())
			}

			report := <-agent.done
			if report.err != nil {
				t.Fatalf("agent: %v", report.err)
			}
			if got := strings.Join(report.syscalls, ","); got !=
				"getppid,getpgid" {
				t.Errorf("agent saw %s, want getppid,getpgid", got)
			}
			state := report.state
			if state.Metadata != "hello agent" ||
				state.Pid != c.state.Pid() ||
				state.Version != specs.Version ||
				state.State.ID != "seccomp-test" ||
				len(state.Fds) != 1 || state.Fds[0] != specs.SeccompFdName {
				t.Errorf("agent got state %+v", state)
			}
		})
	}
}

func TestSendNotifyFdCarriesALongState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// Far more than a socket buffer, so it takes several writes.
	long := strings.Repeat("x", 4<<20)
	sent := &specs.ContainerProcessState{
		Pid:   1,
		State: specs.State{Annotations: map[string]string{"long": long}},
	}
	file, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	errc := make(chan error, 1)
	go func() { errc <- SendNotifyFd(path, sent, int(file.Fd())) }()
	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	state, listener, err := ReceiveNotifyFd(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if state.State.Annotations["long"] != long {
		t.Errorf("annotation came back %d bytes long, want %d",
			len(state.State.Annotations["long"]), len(long))
	}
	if sent.Fds != nil || sent.Version != "" {
		t.Errorf("SendNotifyFd changed the caller's state: %+v", sent)
	}

	// The received fd is the directory that was sent.
	var want, got unix.Stat_t
	if err := unix.Fstat(int(file.Fd()), &want); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(listener.Fd()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Ino != want.Ino || got.Dev != want.Dev {
		t.Errorf("received fd is another file")
	}
	flags, err := unix.FcntlInt(listener.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received fd flags %#x, %v: want FD_CLOEXEC", flags, err)
	}
}

func TestSendNotifyFdNamesAMissingAgent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nobody.sock")
	err := SendNotifyFd(path, &specs.ContainerProcessState{}, 0)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("send to a missing agent: %v, want an error naming %s",
			err, path)
	}
}
