package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/notify"
)

// A container created while NOTIFY_SOCKET is set gets the directory
// notifyDirName of its state directory bind-mounted, read-only, on the
// directory of that same path inside the container, and NOTIFY_SOCKET
// names the same path in the process's environment. The socket itself is
// bound in that directory later, by whoever starts the process (run or
// start), which then relays the messages to its own NOTIFY_SOCKET: a
// directory mount lets the socket be made after create.
const notifyDirName = "notify"

// notifyFallbackPath is the socket's path in the container when the
// host's is abstract ("@name") or relative, which has no place inside; it
// is where runc 1.2 always puts it.
const notifyFallbackPath = "/run/notify/notify.sock"

// notifyPathInContainer is where the process finds the notify socket.
func notifyPathInContainer(host string) string {
	if !filepath.IsAbs(host) {
		return notifyFallbackPath
	}
	return filepath.Clean(host)
}

// setupNotifySocket prepares cfg, about to be created in stateDir, for a
// relay to host.
func setupNotifySocket(stateDir string, cfg *configs.Config, host string) error {
	inside := notifyPathInContainer(host)
	if inside == "/" || strings.IndexByte(inside, 0) >= 0 {
		return fmt.Errorf("NOTIFY_SOCKET %q is not a socket path", host)
	}
	src := filepath.Join(stateDir, notifyDirName)
	if err := os.Mkdir(src, 0o755); err != nil {
		return fmt.Errorf("create notify directory: %w", err)
	}
	cfg.Mounts = append(cfg.Mounts, &configs.Mount{
		Source:      src,
		Destination: filepath.Dir(inside),
		Device:      "bind",
		Flags: unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID |
			unix.MS_NODEV | unix.MS_NOEXEC,
	})
	cfg.Process.Env = setEnv(cfg.Process.Env, "NOTIFY_SOCKET", inside)
	return nil
}

// setEnv sets key to value in env, replacing every earlier setting: with
// two, getenv(3) would find the first.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// ListenNotify binds the container's notify socket and connects it to the
// host's socket at host, NOTIFY_SOCKET of the caller. It returns nil and
// no error when host is empty or the container was created without
// NOTIFY_SOCKET. Call it before the process starts, so that no message is
// lost, and Close the relay when done.
func (c *Container) ListenNotify(host string) (*notify.Relay, error) {
	if host == "" || c.state.Config == nil {
		return nil, nil
	}
	dir := filepath.Join(c.dir, notifyDirName)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var inside string
	for _, kv := range c.state.Config.Process.Env {
		if v, ok := strings.CutPrefix(kv, "NOTIFY_SOCKET="); ok {
			inside = v
		}
	}
	if inside == "" {
		return nil, nil
	}
	return notify.Listen(dir, filepath.Base(inside), host)
}

// WaitNotifyReady relays the process's messages until it reports
// READY=1, then names init as the service's main process. It returns
// notify.ErrStopped if init exits before.
func (c *Container) WaitNotifyReady(r *notify.Relay) error {
	pidfd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	return r.WaitReady(c.state.InitPid, pidfd)
}

// ServeNotify relays the process's messages until init exits, and then
// those it sent before, as a foreground run does.
func (c *Container) ServeNotify(r *notify.Relay) error {
	pidfd, err := c.pidfd()
	if err != nil {
		// Gone already: what it sent is still queued.
		return r.Serve(-1)
	}
	defer unix.Close(pidfd)
	return r.Serve(pidfd)
}
