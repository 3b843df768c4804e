#!/usr/bin/env python3
"""recvfd.py listens on a unix socket for the one fd a runtime sends with
SCM_RIGHTS (--pidfd-socket, --console-socket) and reports on it.

    recvfd.py pidfd SOCKET   print the pid the received pidfd refers to
                             (the "Pid:" line of its fdinfo, see proc(5))
    recvfd.py tty SOCKET     print the name sent with the fd, then copy
                             what is read from the pty master to stdout
                             until the terminal closes

Callers wait for SOCKET to appear before they point the runtime at it.
It exits 0 after one fd, 1 on error.
"""

import array
import os
import socket
import sys


def receive(path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    conn.close()
    srv.close()
    if len(fds) != 1:
        sys.exit("recvfd: got %d fds, want 1" % len(fds))
    return msg.decode(errors="replace"), fds[0]


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("pidfd", "tty"):
        sys.exit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    name, fd = receive(path)
    if mode == "pidfd":
        with open("/proc/self/fdinfo/%d" % fd) as info:
            for line in info:
                if line.startswith("Pid:"):
                    print(line.split()[1])
                    return
        sys.exit("recvfd: fd %d is not a pidfd" % fd)
    print(name, flush=True)
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            # EIO: every slave end is closed.
            return
        if not data:
            return
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
