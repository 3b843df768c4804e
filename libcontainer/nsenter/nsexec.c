/*
 * The C stage of `towel init`. It runs as a constructor, before the Go
 * runtime starts any thread, because setns(2) into a user or mount
 * namespace and unshare(CLONE_NEWUSER) need a single-threaded caller.
 *
 * Hand-off (the Go side of it is process.go in libcontainer):
 *   parent -> here : one bootstrap message on the socket in _TOWEL_INITPIPE
 *   here -> parent : SYNC_USERMAP_REQ when a user namespace was made; the
 *                    parent writes uid_map/gid_map and answers ACK
 *   here -> parent : SYNC_PID with the pid of the child cloned into the new
 *                    PID namespace (CLONE_PARENT: it is the parent's child)
 *   here           : _exit(0); the clone returns from this constructor and
 *                    the Go runtime of `towel init` starts in it.
 * On failure: SYNC_ERR, a length and a message, then _exit(1).
 *
 * After the raw clone glibc's cached thread data is stale, so only
 * async-signal-safe calls (signal-safety(7)) are made here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "nsexec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define MAX_NS_PATHS 16

struct bootstrap {
	uint32_t clone_flags;
	int join_pidfd;
	uint32_t join_flags;
	int ns_count;
	uint32_t ns_types[MAX_NS_PATHS];
	char *ns_paths[MAX_NS_PATHS];
	char *time_offsets;
	char *buf;
};

static int sync_fd = -1;

static size_t cstrlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int read_all(int fd, void *data, size_t len)
{
	char *p = data;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* fail reports "what: strerror(errno)" to the parent and exits. */
static void fail(const char *what)
{
	int saved = errno;
	char msg[512];
	size_t n = 0, i;
	const char *err = saved ? strerror(saved) : NULL;

	for (i = 0; what[i] && n < sizeof(msg) - 1; i++)
		msg[n++] = what[i];
	if (err) {
		const char *sep = ": ";
		for (i = 0; sep[i] && n < sizeof(msg) - 1; i++)
			msg[n++] = sep[i];
		for (i = 0; err[i] && n < sizeof(msg) - 1; i++)
			msg[n++] = err[i];
	}
	if (sync_fd >= 0) {
		uint32_t hdr[2] = { SYNC_ERR, (uint32_t)n };
		write_all(sync_fd, hdr, sizeof(hdr));
		write_all(sync_fd, msg, n);
	}
	_exit(1);
}

static int env_fd(const char *name)
{
	const char *s = getenv(name);
	int v = 0;
	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/*
 * read_bootstrap reads the message: a u32 total length, then attributes
 * of (u16 length incl. header, u16 type, payload padded to 4 bytes).
 */
static void read_bootstrap(struct bootstrap *b)
{
	uint32_t total;
	uint32_t off = 0;

	memset(b, 0, sizeof(*b));
	b->join_pidfd = -1;
	if (read_all(sync_fd, &total, sizeof(total)) < 0)
		fail("read bootstrap length");
	if (total > 1 << 20) {
		errno = EINVAL;
		fail("bootstrap message too large");
	}
	b->buf = malloc(total + 1);
	if (b->buf == NULL)
		fail("allocate bootstrap buffer");
	if (read_all(sync_fd, b->buf, total) < 0)
		fail("read bootstrap message");
	b->buf[total] = '\0';

	while (off + 4 <= total) {
		uint16_t alen, atype;
		char *payload;
		uint32_t plen;

		memcpy(&alen, b->buf + off, 2);
		memcpy(&atype, b->buf + off + 2, 2);
		if (alen < 4 || off + alen > total) {
			errno = EINVAL;
			fail("malformed bootstrap attribute");
		}
		payload = b->buf + off + 4;
		plen = alen - 4;
		switch (atype) {
		case ATTR_CLONE_FLAGS:
			memcpy(&b->clone_flags, payload, 4);
			break;
		case ATTR_JOIN_PIDFD:
			memcpy(&b->join_pidfd, payload, 4);
			break;
		case ATTR_JOIN_FLAGS:
			memcpy(&b->join_flags, payload, 4);
			break;
		case ATTR_NS_PATH:
			/* u32 clone flag, then a NUL-terminated path */
			if (b->ns_count >= MAX_NS_PATHS || plen < 5) {
				errno = EINVAL;
				fail("bad namespace path attribute");
			}
			memcpy(&b->ns_types[b->ns_count], payload, 4);
			b->ns_paths[b->ns_count] = payload + 4;
			payload[plen - 1] = '\0';
			b->ns_count++;
			break;
		case ATTR_TIME_OFFSETS:
			payload[plen - 1] = '\0';
			b->time_offsets = payload;
			break;
		default:
			errno = EINVAL;
			fail("unknown bootstrap attribute");
		}
		off += (alen + 3) & ~3u;
	}
}

static void send_u32(uint32_t code, uint32_t value)
{
	uint32_t msg[2] = { code, value };
	if (write_all(sync_fd, msg, sizeof(msg)) < 0)
		fail("write to parent");
}

static void become_root(void)
{
	/* Supplementary groups are denied in an unprivileged user namespace. */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		fail("setgroups");
	if (setresgid(0, 0, 0) < 0)
		fail("become root in the user namespace (setresgid)");
	if (setresuid(0, 0, 0) < 0)
		fail("become root in the user namespace (setresuid)");
}

static void join_paths(struct bootstrap *b)
{
	int fds[MAX_NS_PATHS];
	int i, pass;

	/* Open every path first: joining one namespace can hide the next. */
	for (i = 0; i < b->ns_count; i++) {
		fds[i] = open(b->ns_paths[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			fail(b->ns_paths[i]);
	}
	/* The user namespace first, for the rights to join the others. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < b->ns_count; i++) {
			int is_user = b->ns_types[i] == CLONE_NEWUSER;
			if (is_user != (pass == 0))
				continue;
			if (setns(fds[i], b->ns_types[i]) < 0)
				fail(b->ns_paths[i]);
			close(fds[i]);
			if (is_user)
				become_root();
		}
	}
}

static void write_time_offsets(const char *offsets)
{
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open /proc/self/timens_offsets");
	if (write_all(fd, offsets, cstrlen(offsets)) < 0)
		fail("write /proc/self/timens_offsets");
	close(fd);
}

void towel_nsexec(void)
{
	struct bootstrap b;
	uint32_t flags;
	uint32_t ack[2];
	pid_t child;

	sync_fd = env_fd("_TOWEL_INITPIPE");
	if (sync_fd < 0)
		return;

	read_bootstrap(&b);

	if (b.join_pidfd >= 0) {
		/* exec: one atomic setns into the container init's namespaces */
		if (setns(b.join_pidfd, b.join_flags) < 0)
			fail("join the container's namespaces");
		close(b.join_pidfd);
		if (b.join_flags & CLONE_NEWUSER)
			become_root();
	}
	join_paths(&b);

	flags = b.clone_flags;
	if (flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail("unshare user namespace");
		/* The parent writes our maps through /proc/PID: let it. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			fail("prctl PR_SET_DUMPABLE");
		send_u32(SYNC_USERMAP_REQ, 0);
		if (read_all(sync_fd, ack, sizeof(ack)) < 0 ||
		    ack[0] != SYNC_USERMAP_ACK) {
			errno = EPROTO;
			fail("wait for the id maps");
		}
		become_root();
		flags &= ~CLONE_NEWUSER;
	}
	if (flags && unshare(flags) < 0)
		fail("unshare namespaces");
	if ((flags & CLONE_NEWTIME) && b.time_offsets && *b.time_offsets)
		write_time_offsets(b.time_offsets);

	/*
	 * The child becomes PID 1 of a new PID namespace and, thanks to
	 * CLONE_PARENT, a child of the towel parent, which can wait for it.
	 */
	child = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		fail("clone init");
	if (child == 0) {
		free(b.buf);
		return;
	}
	send_u32(SYNC_PID, (uint32_t)child);
	_exit(0);
}
