// Package dmz keeps the container away from towel's own binary.
//
// A container's init is `towel init`, a process of the runtime's binary
// running inside the container's namespaces until it execs the
// container's program. Any process of the container that can reach it
// through /proc/PID/exe (or that makes init exec /proc/self/exe) holds the
// host binary; if it could open that for writing it would replace the
// runtime every later container runs (CVE-2019-5736). This package gives
// the runtime a binary to start init from that cannot be written:
//
//   - KindSealedSelf: the running binary is already a sealed memfd, as
//     contrib/cmd/memfd-bind makes it; it is used as is.
//   - KindOverlay: the binary seen through a private read-only overlayfs
//     mount that is never attached anywhere. Opening it for writing fails
//     with EROFS, and it costs no copy and no memory.
//   - KindMemfd: a sealed memfd copy (F_SEAL_SEAL, SHRINK, GROW, WRITE),
//     the fallback where the overlay cannot be made, e.g. without
//     CAP_SYS_ADMIN over the mount namespace. It costs one copy of the
//     binary in memory for as long as init runs.
//
// It also holds the dmz stub: a static program of a few hundred bytes,
// embedded at build time, that init may exec from a sealed memfd as the
// last step, so that the container's program is started by the stub and
// not by the runtime (see Stub). The build tag runc_nodmz leaves it out.
//
// It does not decide when to use the stub; libcontainer does, from
// RUNC_DMZ and the container's configuration.
//
// BUG(towel): the stub exists for x86_64 and aarch64 only; elsewhere the
// build embeds none and RUNC_DMZ=true has no effect.
package dmz
