#!/usr/bin/env bats
# Device access through the cgroup: the v1 devices controller on the
# host, the v2 eBPF filter in a namespace that looks like a v2 host. The
# host device is bind-mounted in, so only the cgroup stands between the
# container and it.

load helpers
load cgroup-helpers

setup() {
	setup_busybox
	[ -c /dev/fuse ] || skip "no /dev/fuse on this host"
	# /dev/fuse (10:229) is not in the built-in allow list.
	update_config '.mounts += [
		{"destination": "/dev/fuse", "type": "bind",
		 "source": "/dev/fuse", "options": ["bind"]}]'
}

teardown() {
	teardown_cgroup_ns
	teardown_common
}

# The shell line that reports whether /dev/fuse opens for read and write.
OPEN_FUSE='if true 3<>/dev/fuse; then echo opened; else echo denied; fi'

allow_fuse() {
	update_config '.linux.resources.devices = [{"allow": true,
		"type": "c", "major": 10, "minor": 229, "access": "rw"}]'
}

requires_v1() {
	cgroup_v2 && skip "cgroup v1 test on a cgroup v2 host"
	return 0
}

# fuse_rule_update FILE writes an update that allows /dev/fuse.
fuse_rule_update() {
	echo '{"devices": [{"allow": true, "type": "c", "major": 10,
		"minor": 229, "access": "rw"}]}' >"$1"
}

@test "v1: a host device outside the built-in allow list cannot be opened" {
	requires_v1
	in_container sh -c "$OPEN_FUSE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" == *denied ]]
}

@test "v1: an allow rule for a host device lets the container open it" {
	requires_v1
	allow_fuse
	in_container sh -c "$OPEN_FUSE"
	[ "$status" -eq 0 ]
	[ "$output" = opened ]
}

@test "v1: /dev/net/tun is in the built-in allow list" {
	requires_v1
	[ -c /dev/net/tun ] || skip "no /dev/net/tun on this host"
	update_config '.mounts += [{"destination": "/dev/net/tun",
		"type": "bind", "source": "/dev/net/tun", "options": ["bind"]}]'
	in_container sh -c 'true 3<>/dev/net/tun && echo opened'
	[ "$status" -eq 0 ]
	[ "$output" = opened ]
}

@test "v1: update adding and then removing a device rule takes effect at once" {
	requires_v1
	set_args sleep 1000
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	run towel exec "$CT" sh -c "$OPEN_FUSE"
	[[ "$output" == *denied ]]

	fuse_rule_update "$BATS_TEST_TMPDIR/allow.json"
	towel update -r "$BATS_TEST_TMPDIR/allow.json" "$CT"
	run towel exec "$CT" sh -c "$OPEN_FUSE"
	[ "$output" = opened ]

	echo '{"devices": []}' | towel update -r - "$CT"
	run towel exec "$CT" sh -c "$OPEN_FUSE"
	[[ "$output" == *denied ]]

	# Still the same container, and the built-in devices still work.
	[ "$(pid_of "$CT")" = "$pid" ]
	[ "$(status_of "$CT")" = running ]
	run towel exec "$CT" sh -c 'echo x >/dev/null && echo ok'
	[ "$output" = ok ]
}

@test "v1: a device rule update writes only the difference, never a deny-all" {
	requires_v1
	set_args sleep 1000
	run_detached "$CT"
	fuse_rule_update "$BATS_TEST_TMPDIR/allow.json"

	strace -f -qq -s 64 -e trace=write -o "$BATS_TEST_TMPDIR/trace" \
		"$TOWEL" --root "$ROOT" update -r "$BATS_TEST_TMPDIR/allow.json" "$CT"
	# One write: the new exception. A write of "a" would reset the list.
	run grep -c 'write([0-9]*, "c 10:229 rw"' "$BATS_TEST_TMPDIR/trace"
	[ "$output" = 1 ]
	run grep -E 'write\([0-9]+, "a"' "$BATS_TEST_TMPDIR/trace"
	[ "$status" -ne 0 ]

	local dir
	dir=$(cgroup_dir "$(pid_of "$CT")" devices)
	grep -qx 'c 10:229 rw' "$dir/devices.list"
	grep -qx 'c 1:3 rwm' "$dir/devices.list"
}

@test "v2: a host device outside the built-in allow list cannot be opened" {
	requires_v2_namespace
	set_args sh -c "$OPEN_FUSE"
	run in_v2 'towel run --bundle "$BUNDLE" "$CT" </dev/null'
	[ "$status" -eq 0 ]
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" == *denied ]]
}

@test "v2: an allow rule for a host device lets the container open it" {
	requires_v2_namespace
	allow_fuse
	set_args sh -c "$OPEN_FUSE"
	run in_v2 'towel run --bundle "$BUNDLE" "$CT" </dev/null'
	[ "$status" -eq 0 ]
	[ "$output" = opened ]
}

@test "v2: the device filter loads with RLIMIT_MEMLOCK at zero" {
	requires_v2_namespace
	# Lowering is always allowed; raising it back needs CAP_SYS_RESOURCE,
	# which a runtime cannot count on (this machine does not grant it).
	allow_fuse
	set_args sh -c "$OPEN_FUSE"
	run in_v2 'prlimit --memlock=0:0 "$TOWEL_BINARY" --root "$ROOT" \
		run --bundle "$BUNDLE" "$CT" </dev/null'
	[ "$status" -eq 0 ]
	[ "$output" = opened ]

	set_args sh -c "$OPEN_FUSE"
	update_config '.linux.resources.devices = []'
	run in_v2 'prlimit --memlock=0:0 "$TOWEL_BINARY" --root "$ROOT" \
		run --bundle "$BUNDLE" "$CT" </dev/null'
	[ "$status" -eq 0 ]
	[[ "$output" == *denied ]]
}

@test "v2: /dev/net/tun is in the built-in allow list" {
	requires_v2_namespace
	[ -c /dev/net/tun ] || skip "no /dev/net/tun on this host"
	update_config '.mounts += [{"destination": "/dev/net/tun",
		"type": "bind", "source": "/dev/net/tun", "options": ["bind"]}]'
	set_args sh -c 'true 3<>/dev/net/tun && echo opened'
	run in_v2 'towel run --bundle "$BUNDLE" "$CT" </dev/null'
	[ "$status" -eq 0 ]
	[ "$output" = opened ]
}

@test "v2: update adding and then removing a device rule takes effect at once" {
	requires_v2_namespace
	set_args sleep 1000
	fuse_rule_update "$BATS_TEST_TMPDIR/allow.json"
	export OPEN_FUSE
	# shellcheck disable=SC2016 # expanded in the namespace
	run in_v2 '
		set -e
		run_detached "$CT"
		pid=$(pid_of "$CT")
		try() { towel exec "$CT" sh -c "$OPEN_FUSE" 2>&1 | tail -n1; }
		echo "before: $(try)"
		prlimit --memlock=0:0 "$TOWEL_BINARY" --root "$ROOT" \
			update -r "$BATS_TEST_TMPDIR/allow.json" "$CT"
		echo "allowed: $(try)"
		echo "{\"devices\": []}" | towel update -r - "$CT"
		echo "removed: $(try)"
		[ "$(pid_of "$CT")" = "$pid" ] && echo "same pid"
		echo "status: $(status_of "$CT")"
		towel exec "$CT" sh -c "echo x >/dev/null && echo null works"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "before: denied" ]
	[ "${lines[1]}" = "allowed: opened" ]
	[ "${lines[2]}" = "removed: denied" ]
	[ "${lines[3]}" = "same pid" ]
	[ "${lines[4]}" = "status: running" ]
	[ "${lines[5]}" = "null works" ]
}
