#!/usr/bin/env bats
# Namespaces: new ones, joined ones, user namespace maps, time offsets.

load helpers

setup() {
	setup_busybox
}

teardown() {
	teardown_common
	[ -z "${NSFILE:-}" ] || umount "$NSFILE" 2>/dev/null || true
}

@test "the container's namespaces differ from the host's" {
	in_container sh -c 'for t in pid net ipc uts mnt; do readlink /proc/self/ns/$t; done'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" != "$(host_ns pid)" ]
	[ "${lines[1]}" != "$(host_ns net)" ]
	[ "${lines[2]}" != "$(host_ns ipc)" ]
	[ "${lines[3]}" != "$(host_ns uts)" ]
	[ "${lines[4]}" != "$(host_ns mnt)" ]
}

@test "a namespace the config leaves out is shared with the host" {
	update_config '.linux.namespaces -= [{"type": "network"}]'
	in_container readlink /proc/self/ns/net
	[ "$status" -eq 0 ]
	[ "$output" = "$(host_ns net)" ]
}

@test "a cgroup namespace the config asks for is new" {
	requires_kernel_ns cgroup
	update_config '.linux.namespaces += [{"type": "cgroup"}]'
	in_container readlink /proc/self/ns/cgroup
	[ "$status" -eq 0 ]
	[ "$output" != "$(host_ns cgroup)" ]
}

@test "the network namespace has only a loopback device, and it is up" {
	in_container cat /proc/net/dev
	[ "$status" -eq 0 ]
	# Two header lines, then lo alone.
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[2]}" =~ ^\ *lo: ]]

	# IFF_UP is bit 0 of the interface flags.
	in_container cat /sys/class/net/lo/flags
	[ "$status" -eq 0 ]
	(( output & 1 ))
}

@test "a container can join another container's namespaces by path" {
	update_config '.hostname = "first"'
	set_args sleep 100
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	update_config '.linux.namespaces = [{"type": "pid"}, {"type": "mount"},
		{"type": "network", "path": $net}, {"type": "ipc", "path": $ipc},
		{"type": "uts", "path": $uts}] | del(.hostname)' \
		--arg net "/proc/$pid/ns/net" --arg ipc "/proc/$pid/ns/ipc" \
		--arg uts "/proc/$pid/ns/uts"
	set_args sh -c 'readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; hostname'
	run towel run --bundle "$BUNDLE" "$CT2"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(readlink "/proc/$pid/ns/net")" ]
	[ "${lines[1]}" = "$(readlink "/proc/$pid/ns/ipc")" ]
	[ "${lines[2]}" = first ]
}

@test "a container can join a namespace bound to a file" {
	NSFILE=$BATS_TEST_TMPDIR/utsns
	touch "$NSFILE"
	unshare --uts="$NSFILE" hostname from-a-file

	update_config 'del(.hostname) | .linux.namespaces |= map(
		if .type == "uts" then .path = $p else . end)' --arg p "$NSFILE"
	in_container hostname
	[ "$status" -eq 0 ]
	[ "$output" = from-a-file ]
}

@test "joining a namespace path that is not a namespace fails" {
	update_config '.linux.namespaces |= map(
		if .type == "network" then .path = "/etc/hostname" else . end)'
	local before
	before=$(snapshot)
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	assert_nothing_left "$before" "$CT"
}

@test "a hostname without a new uts namespace is refused" {
	update_config '.linux.namespaces -= [{"type": "uts"}] | .hostname = "nope"'
	local before
	before=$(hostname)
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	[ "$(hostname)" = "$before" ]
}

# userns_config sets up a user namespace mapping container ids 0-65535 to
# host ids 100000-165535, and lets those ids reach the bundle.
userns_config() {
	# bats makes its run directory 0700; the container's root is an
	# unprivileged host user that must walk through it to the rootfs.
	chmod o+x "$BATS_RUN_TMPDIR"
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
}

@test "a user namespace gets the config's uid and gid maps" {
	requires_kernel_ns user
	userns_config
	in_container sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^\ +0\ +100000\ +65536$ ]]
	[[ "${lines[1]}" =~ ^\ +0\ +100000\ +65536$ ]]
	[ "${lines[2]}" = 0 ]
}

@test "root in a user namespace is an unprivileged user on the host" {
	requires_kernel_ns user
	userns_config
	set_args sleep 100
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = 100000 ]
	[ "$(readlink "/proc/$pid/ns/user")" != "$(host_ns user)" ]
}

@test "a user namespace without maps is refused" {
	requires_kernel_ns user
	update_config '.linux.namespaces += [{"type": "user"}]'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
}

@test "a time namespace gets the config's clock offsets" {
	requires_kernel_ns time
	update_config '.linux.namespaces += [{"type": "time"}]
		| .linux.timeOffsets = {
			"monotonic": {"secs": 864000, "nanosecs": 0},
			"boottime": {"secs": 1728000, "nanosecs": 0}}'
	in_container cat /proc/uptime
	[ "$status" -eq 0 ]
	local host_up in_up
	host_up=$(cut -d. -f1 /proc/uptime)
	in_up=$(cut -d. -f1 <<<"$output")
	# boottime moved by 20 days; /proc/uptime follows it.
	[ "$in_up" -ge $((host_up + 1728000 - 60)) ]
	[ "$in_up" -le $((host_up + 1728000 + 60)) ]
}

@test "time offsets without a time namespace are refused" {
	requires_kernel_ns time
	update_config '.linux.timeOffsets = {"monotonic": {"secs": 10, "nanosecs": 0}}'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
}
