package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// A filter cannot be unloaded, so every test that loads one does it in a
// child: the test binary run again with childEnv holding a childPlan.

const childEnv = "TOWEL_SECCOMP_TEST_CHILD"

// childPlan is what a child does, in this order.
type childPlan struct {
	// NoNewPrivs sets no_new_privs before loading, as init does.
	NoNewPrivs bool
	// DropSysAdmin removes CAP_SYS_ADMIN from the loading thread.
	DropSysAdmin bool
	// Profile is loaded with InitSeccomp from a locked thread.
	Profile *specs.LinuxSeccomp
	// NotifySocket, if set, gets the listener fd with SendNotifyFd.
	NotifySocket string
	// Exec, if set, is executed after loading, as init does.
	Exec []string
	// Calls are made after loading, from the loading thread or, with
	// OtherThread, from a thread started before the filter was loaded.
	Calls       []rawCall
	OtherThread bool
}

// rawCall is one syscall and its arguments.
type rawCall struct {
	Nr   uintptr
	Args [6]uintptr
}

// childResult is what a child that did not exec reports on stdout.
type childResult struct {
	LoadErr string
	Results []callResult
	// Filters and SpecStoreBypass are Seccomp_filters and
	// Speculation_Store_Bypass of the status of the thread that made the
	// calls (or that failed to load).
	Filters         string
	SpecStoreBypass string
}

type callResult struct {
	Ret   uintptr
	Errno unix.Errno
}

func TestMain(m *testing.M) {
	if plan := os.Getenv(childEnv); plan != "" {
		os.Exit(childMain(plan))
	}
	os.Exit(m.Run())
}

// childMain runs in the child. Its exit code is 0 when it could report,
// whatever the report says.
func childMain(planJSON string) int {
	runtime.LockOSThread()
	var plan childPlan
	if err := json.Unmarshal([]byte(planJSON), &plan); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad plan:", err)
		return 2
	}

	// The other thread exists before the filter, so only TSYNC reaches it.
	work := make(chan func())
	if plan.OtherThread {
		ready := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(ready)
			for f := range work {
				f()
			}
		}()
		<-ready
	}

	if plan.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "child: no_new_privs:", err)
			return 2
		}
	}
	if plan.DropSysAdmin {
		if err := dropThreadCap(unix.CAP_SYS_ADMIN); err != nil {
			fmt.Fprintln(os.Stderr, "child: drop CAP_SYS_ADMIN:", err)
			return 2
		}
	}

	var result childResult
	fd, err := InitSeccomp(plan.Profile)
	if err != nil {
		result.LoadErr = err.Error()
		result.Filters = threadStatus("Seccomp_filters")
		return report(&result)
	}
	if plan.NotifySocket != "" {
		state := &specs.ContainerProcessState{
			Pid:      os.Getpid(),
			Metadata: plan.Profile.ListenerMetadata,
			State: specs.State{
				Version: specs.Version,
				ID:      "seccomp-test",
				Status:  specs.StateCreating,
				Pid:     os.Getpid(),
			},
		}
		if err := SendNotifyFd(plan.NotifySocket, state, fd); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		unix.Close(fd)
	}

	if len(plan.Exec) > 0 {
		err := unix.Exec(plan.Exec[0], plan.Exec, os.Environ())
		fmt.Fprintln(os.Stderr, "child: exec:", err)
		return 2
	}

	calls := func() {
		for _, c := range plan.Calls {
			ret, _, errno := unix.Syscall6(c.Nr, c.Args[0], c.Args[1],
				c.Args[2], c.Args[3], c.Args[4], c.Args[5])
			result.Results = append(result.Results, callResult{ret, errno})
		}
		result.Filters = threadStatus("Seccomp_filters")
		result.SpecStoreBypass = threadStatus("Speculation_Store_Bypass")
	}
	if plan.OtherThread {
		done := make(chan struct{})
		work <- func() { calls(); close(done) }
		<-done
	} else {
		calls()
	}
	return report(&result)
}

func report(result *childResult) int {
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		return 2
	}
	return 0
}

// threadStatus reads a field of the status of the calling thread.
func threadStatus(field string) string {
	status, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/status",
		unix.Gettid()))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "none"
}

// dropThreadCap removes capability c from the effective set of the
// calling thread only (capset(2) acts on the caller).
func dropThreadCap(c uint) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[c/32].Effective &^= 1 << (c % 32)
	return unix.Capset(&hdr, &data[0])
}

// child is a finished child process.
type child struct {
	result childResult
	state  *os.ProcessState
	stdout string
	stderr string
}

// runChild runs plan in a child and waits for it. It fails the test only
// when the child could not be run at all.
func runChild(t *testing.T, plan childPlan) *child {
	t.Helper()
	planJSON, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(planJSON))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("run child: %v", err)
	}
	c := &child{state: cmd.ProcessState, stdout: stdout.String(),
		stderr: stderr.String()}
	if len(plan.Exec) == 0 && cmd.ProcessState.ExitCode() == 0 {
		if err := json.Unmarshal(stdout.Bytes(), &c.result); err != nil {
			t.Fatalf("child report %q: %v", stdout.String(), err)
		}
	}
	return c
}

// mustReport fails the test unless the child loaded its filter and
// reported.
func (c *child) mustReport(t *testing.T) childResult {
	t.Helper()
	if c.state.ExitCode() != 0 {
		t.Fatalf("child: %v, stderr: %s", c.state, c.stderr)
	}
	if c.result.LoadErr != "" {
		t.Fatalf("child: %s", c.result.LoadErr)
	}
	return c.result
}

// signal returns the signal that killed the child, or 0.
func (c *child) signal() unix.Signal {
	ws, ok := c.state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0
	}
	return ws.Signal()
}

// sysno resolves a syscall name for this machine, or fails the test.
func sysno(t *testing.T, name string) uintptr {
	t.Helper()
	nr, err := libseccomp.GetSyscallFromName(name)
	if err != nil || nr < 0 {
		t.Fatalf("syscall %q: %v", name, err)
	}
	return uintptr(nr)
}

func errnoRet(e unix.Errno) *uint {
	v := uint(e)
	return &v
}
