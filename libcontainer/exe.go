package libcontainer

import (
	"os"
	"os/exec"
	"strconv"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/dmz"
)

// envExeFd names the fd `towel init` was exec'd from, which init closes
// first thing.
const envExeFd = "_TOWEL_EXEFD"

// initBinary is the executable `towel init` is started from: the running
// binary in a form the container cannot write (see package dmz), so that a
// container process that reaches init through /proc/PID/exe, while init
// sets up a container or joins one for exec, cannot replace the runtime.
type initBinary struct {
	exe *dmz.Exe
}

// initExecutable returns the binary to start init from.
func initExecutable() (*initBinary, error) {
	exe, err := dmz.OpenSelf()
	if err != nil {
		return nil, err
	}
	if exe.OverlayErr != nil {
		logrus.Debugf("init binary: no read-only overlay (%v)",
			exe.OverlayErr)
	}
	logrus.Debugf("init binary: %s", exe.Kind)
	return &initBinary{exe: exe}, nil
}

// Close releases what keeps the binary available; init keeps running from
// it regardless.
func (b *initBinary) Close() error {
	return b.exe.Close()
}

// addTo makes cmd exec the binary. A protected copy is passed as the last
// of cmd.ExtraFiles and exec'd through its fd number in the child:
// exec.Cmd has no fexecve, and a number in the parent could be taken by
// another file when the child moves its fds into place.
func (b *initBinary) addTo(cmd *exec.Cmd) {
	if b.exe.File == nil {
		cmd.Path = "/proc/self/exe"
		return
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, b.exe.File)
	fd := strconv.Itoa(3 + len(cmd.ExtraFiles) - 1)
	cmd.Path = "/proc/self/fd/" + fd
	cmd.Env = append(cmd.Env, envExeFd+"="+fd)
}

// started lets go of what only the exec of init needed.
func (b *initBinary) started() {
	b.exe.ReleaseMounts()
}

// closeInitExe closes the fd init was exec'd from: the C stage has no use
// for it, and hooks must not inherit it.
func closeInitExe() {
	fd, err := strconv.Atoi(os.Getenv(envExeFd))
	if err == nil && fd > 2 {
		unix.Close(fd)
	}
}
