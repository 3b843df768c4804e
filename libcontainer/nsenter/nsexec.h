#ifndef TOWEL_NSEXEC_H
#define TOWEL_NSEXEC_H

/* Bootstrap attribute types; keep in step with bootstrap.go. */
#define ATTR_CLONE_FLAGS  1
#define ATTR_NS_PATH      2
#define ATTR_JOIN_PIDFD   3
#define ATTR_JOIN_FLAGS   4
#define ATTR_TIME_OFFSETS 5

/* Messages from the C stage to the parent; keep in step with bootstrap.go. */
#define SYNC_USERMAP_REQ 0x40
#define SYNC_USERMAP_ACK 0x41
#define SYNC_PID         0x50
#define SYNC_ERR         0xFF

void towel_nsexec(void);

#endif
