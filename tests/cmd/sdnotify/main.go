// Command sdnotify plays both ends of sd_notify(3) in the integration
// tests: the service in the container and the service manager on the
// host. Built static, it runs in a busybox container.
//
//	sdnotify send VAR=VALUE...     one datagram to $NOTIFY_SOCKET, the
//	                               assignments joined by newlines
//	sdnotify listen PATH PIDFILE   bind a datagram socket at PATH, write
//	                               PIDFILE, then print each datagram on
//	                               one line, newlines shown as ";" and
//	                               " fds=N" when it carried fds, which
//	                               are closed (so BARRIER=1 is answered)
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: sdnotify send VAR=VALUE... | listen PATH PIDFILE")
	}
	switch os.Args[1] {
	case "send":
		send(strings.Join(os.Args[2:], "\n"))
	case "listen":
		if len(os.Args) != 4 {
			fail("usage: sdnotify listen PATH PIDFILE")
		}
		listen(os.Args[2], os.Args[3])
	default:
		fail("unknown command " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "sdnotify:", msg)
	os.Exit(1)
}

func send(msg string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		fail("NOTIFY_SOCKET is not set")
	}
	conn, err := net.DialUnix("unixgram", nil,
		&net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		fail(err.Error())
	}
	if _, err := conn.Write([]byte(msg)); err != nil {
		fail(err.Error())
	}
}

func listen(path, pidFile string) {
	conn, err := net.ListenUnixgram("unixgram",
		&net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		fail(err.Error())
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := os.WriteFile(pidFile+".tmp", pid, 0o644); err != nil {
		fail(err.Error())
	}
	if err := os.Rename(pidFile+".tmp", pidFile); err != nil {
		fail(err.Error())
	}
	buf := make([]byte, 65536)
	oob := make([]byte, unix.CmsgSpace(253*4))
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			fail(err.Error())
		}
		line := strings.ReplaceAll(string(buf[:n]), "\n", ";")
		nfds := 0
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for i := range msgs {
			fds, err := unix.ParseUnixRights(&msgs[i])
			if err != nil {
				continue
			}
			for _, fd := range fds {
				unix.Close(fd)
				nfds++
			}
		}
		if nfds > 0 {
			line += " fds=" + strconv.Itoa(nfds)
		}
		fmt.Println(line)
	}
}
