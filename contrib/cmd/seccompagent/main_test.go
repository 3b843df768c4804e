package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/seccomp"
)

// The filtered process is this test binary run again with childEnv set
// to a childPlan: it loads the profile, hands the listener to the agent
// as towel does, and makes its calls.

const childEnv = "SECCOMPAGENT_TEST_CHILD"

type childPlan struct {
	Profile *specs.LinuxSeccomp
	Mkdir   string
}

type childReport struct {
	MkdirErrno unix.Errno
	GetppidRet uintptr
	GetppidErr unix.Errno
}

func TestMain(m *testing.M) {
	if plan := os.Getenv(childEnv); plan != "" {
		os.Exit(childMain(plan))
	}
	os.Exit(m.Run())
}

func childMain(planJSON string) int {
	runtime.LockOSThread()
	var plan childPlan
	if err := json.Unmarshal([]byte(planJSON), &plan); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fd, err := seccomp.InitSeccomp(plan.Profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	state := &specs.ContainerProcessState{
		Pid:      os.Getpid(),
		Metadata: plan.Profile.ListenerMetadata,
		State:    specs.State{ID: "agent-test", Pid: os.Getpid()},
	}
	err = seccomp.SendNotifyFd(plan.Profile.ListenerPath, state, fd)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	unix.Close(fd)

	var report childReport
	if err := unix.Mkdir(plan.Mkdir, 0o755); err != nil &&
		!errors.As(err, &report.MkdirErrno) {
		return 2
	}
	report.GetppidRet, _, report.GetppidErr = unix.Syscall(
		unix.SYS_GETPPID, 0, 0, 0)
	if err := json.NewEncoder(os.Stdout).Encode(&report); err != nil {
		return 2
	}
	return 0
}

// lines is a log destination that hands each line to a channel.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- strings.TrimSpace(string(p))
	return len(p), nil
}

// startAgent serves a on a socket in a temporary directory and returns
// the socket path and the agent's log lines.
func startAgent(t *testing.T, a *agent) (string, lines) {
	t.Helper()
	logLines := make(lines, 100)
	a.log = log.New(logLines, "", 0)
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		if err := a.serve(ln); !errors.Is(err, net.ErrClosed) {
			logLines <- "serve: " + err.Error()
		}
	}()
	return path, logLines
}

// runFiltered runs a child whose mkdir and getppid go to the agent at
// socketPath, and returns its report and where it tried to mkdir.
func runFiltered(t *testing.T, socketPath string) (childReport, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "made")
	plan, err := json.Marshal(&childPlan{
		Profile: &specs.LinuxSeccomp{
			DefaultAction:    specs.ActAllow,
			ListenerPath:     socketPath,
			ListenerMetadata: "from the test",
			Syscalls: []specs.LinuxSyscall{{
				Names:  []string{"mkdir", "mkdirat", "getppid"},
				Action: specs.ActNotify,
			}},
		},
		Mkdir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(plan))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	var report childReport
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	return report, dir
}

// waitLog returns the agent's log up to the line that ends a container.
func waitLog(t *testing.T, logLines lines) string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line := <-logLines:
			got = append(got, line)
			if strings.HasSuffix(line, ": done") {
				return strings.Join(got, "\n")
			}
		case <-timeout:
			t.Fatalf("the agent did not finish; its log: %q", got)
		}
	}
}

func TestMkdirIsAnsweredByTheAgent(t *testing.T) {
	socketPath, logLines := startAgent(t, &agent{mkdirValue: 0})
	report, dir := runFiltered(t, socketPath)

	if report.MkdirErrno != 0 {
		t.Errorf("mkdir: %v, want success", report.MkdirErrno)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (%v): the agent should have made nothing",
			dir, err)
	}
	// getppid is notified too, and let through: the parent is us.
	if int(report.GetppidRet) != os.Getpid() || report.GetppidErr != 0 {
		t.Errorf("getppid: %d, %v, want %d", report.GetppidRet,
			report.GetppidErr, os.Getpid())
	}

	logText := waitLog(t, logLines)
	for _, want := range []string{
		`container agent-test (pid `,
		`metadata "from the test"): listening`,
		fmt.Sprintf("mkdirat %q: returned 0, nothing made", dir),
		"getppid: let through",
	} {
		if !strings.Contains(logText, want) {
			t.Errorf("log lacks %q:\n%s", want, logText)
		}
	}
}

func TestMkdirFailsWithTheErrnoGiven(t *testing.T) {
	socketPath, logLines := startAgent(t, &agent{mkdirErrno: unix.EDQUOT})
	report, dir := runFiltered(t, socketPath)
	if report.MkdirErrno != unix.EDQUOT {
		t.Errorf("mkdir: errno %v, want EDQUOT", report.MkdirErrno)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists", dir)
	}
	if logText := waitLog(t, logLines); !strings.Contains(logText,
		unix.EDQUOT.Error()) {
		t.Errorf("log does not name the errno:\n%s", logText)
	}
}

func TestParseErrno(t *testing.T) {
	for in, want := range map[string]unix.Errno{
		"EDQUOT": unix.EDQUOT, "122": unix.EDQUOT, "EPERM": unix.EPERM,
	} {
		if got, err := parseErrno(in); err != nil || got != want {
			t.Errorf("parseErrno(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "EFOO", "-1", "70000"} {
		if _, err := parseErrno(bad); err == nil {
			t.Errorf("parseErrno(%q) accepted", bad)
		}
	}
}
