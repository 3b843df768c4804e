package libcontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/rootfs"
)

// A process with terminal: true gets a new pty that init allocates from
// the container's own /dev/ptmx (its devpts instance), once the container's
// root is in place. The slave becomes the process's stdio and controlling
// terminal and, for a new container, is bind-mounted on /dev/console. The
// master goes to the parent over the sync socket (syncFd "console"), which
// either hands it to the --console-socket or keeps it for the caller to
// copy to and from its own stdio.

// ptmxName is the name the master is sent under on a console socket, as
// runc sends it.
const ptmxName = "/dev/ptmx"

// SendFd sends an fd (a pty master, a pidfd) over the unix socket at path,
// as runc's --console-socket contract says: one message whose data is the
// file's name and whose SCM_RIGHTS carries the fd.
func SendFd(path string, f *os.File) error {
	return sendFdNamed(path, f, f.Name())
}

// sendConsole sends a pty master received from init to a console socket.
func sendConsole(path string, master *os.File) error {
	return sendFdNamed(path, master, ptmxName)
}

func sendFdNamed(path string, f *os.File, name string) error {
	addr := path
	// A path too long for sun_path (unix(7)) is reached through an fd
	// of its directory.
	if len(path) >= len(unix.RawSockaddrUnix{}.Path) {
		dir, err := os.OpenFile(filepath.Dir(path),
			unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("connect to console socket %s: %w", path, err)
		}
		defer dir.Close()
		addr = "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" +
			filepath.Base(path)
	}
	conn, err := net.DialUnix("unix", nil,
		&net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		// net's error repeats the path: keep the system call's.
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			err = opErr.Err
		}
		return fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	defer conn.Close()
	rights := unix.UnixRights(int(f.Fd()))
	if _, _, err := conn.WriteMsgUnix([]byte(name), rights, nil); err != nil {
		return fmt.Errorf("send %s to %s: %w", name, path, err)
	}
	return nil
}

// setupConsole makes the process's pty, makes its slave our stdio and
// controlling terminal, bind-mounts it on /dev/console when mountConsole
// is set (a new container, after PivotRoot), and sends the master to the
// parent. The caller has called setsid(2).
func (i *initState) setupConsole(mountConsole bool) error {
	master, _, err := console.NewPty()
	if err != nil {
		return fmt.Errorf("open pty: %w", err)
	}
	defer master.Close()
	if sz := i.cfg.Process.ConsoleSize; sz != nil {
		err := master.Resize(console.WinSize{
			Height: uint16(sz.Height), Width: uint16(sz.Width)})
		if err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}

	// TIOCGPTPEER (Linux 4.13) opens the slave of this very master; its
	// path under /dev/pts is the image's to fake when no devpts is
	// mounted there.
	slaveFd, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(),
		unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return fmt.Errorf("open pty slave: %w", errno)
	}
	slave := os.NewFile(slaveFd, "pty-slave")
	defer slave.Close()
	if err := chownTerminal(slave, int(i.cfg.Process.User.UID)); err != nil {
		return err
	}

	if mountConsole {
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|
			unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open root: %w", err)
		}
		err = rootfs.MountConsole(root, slave)
		root.Close()
		if err != nil {
			return err
		}
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup pty slave to %d: %w", fd, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return writeMsg(i.sock, syncMsg{Type: syncFd, Name: fdConsole},
		int(master.Fd()))
}

// chownTerminal gives the slave to the process's user, who could not
// use it otherwise: devpts gives it to the opener of /dev/ptmx (root) and
// the gid= of the mount (tty), with mode 0620. The gid stays.
func chownTerminal(slave *os.File, uid int) error {
	err := unix.Fchown(int(slave.Fd()), uid, -1)
	// EINVAL: uid is not mapped in the user namespace; EPERM: the slave's
	// owner is not; EROFS: a read-only devpts. The process then keeps a
	// terminal it may not reopen, as with runc.
	if err != nil && !errors.Is(err, unix.EINVAL) &&
		!errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
		return fmt.Errorf("chown pty slave to %d: %w", uid, err)
	}
	return nil
}
