#!/usr/bin/env bats
# Bad input: each mistake is one line on stderr, a non-zero exit, and
# nothing left behind (no state, cgroup, mount or process).

load helpers

setup() {
	setup_busybox
	set_args true
	mkdir -p "$ROOT"
	BEFORE=$(snapshot)
}

teardown() {
	teardown_common
}

# fails_cleanly CMD... runs towel with CMD and checks the failure: non-zero
# status, one line on stderr, and the snapshot taken in setup unchanged.
fails_cleanly() {
	towel_captured "$@"
	echo "status $status, stderr: $stderr"
	[ "$status" -ne 0 ]
	one_line_error
	assert_nothing_left "$BEFORE" "$CT"
}

@test "a malformed config.json is an error" {
	echo '{"ociVersion": "1.2.0", "process": ' >"$BUNDLE/config.json"
	fails_cleanly create --bundle "$BUNDLE" "$CT"
	fails_cleanly run --bundle "$BUNDLE" "$CT"
}

@test "a config.json of the wrong JSON type is an error" {
	echo '["not", "an", "object"]' >"$BUNDLE/config.json"
	fails_cleanly run --bundle "$BUNDLE" "$CT"
}

@test "a missing config.json is an error" {
	rm "$BUNDLE/config.json"
	fails_cleanly create --bundle "$BUNDLE" "$CT"
	[[ "$stderr" == *config.json* ]]
}

@test "a bundle directory that does not exist is an error" {
	fails_cleanly create --bundle "$BATS_TEST_TMPDIR/no-such-bundle" "$CT"
}

@test "a missing rootfs is an error" {
	update_config '.root.path = "no-such-rootfs"'
	fails_cleanly create --bundle "$BUNDLE" "$CT"
	fails_cleanly run --bundle "$BUNDLE" "$CT"
}

@test "a config without process is refused by run" {
	update_config 'del(.process)'
	fails_cleanly run --bundle "$BUNDLE" "$CT"
}

@test "a process without args is an error" {
	update_config '.process.args = []'
	fails_cleanly run --bundle "$BUNDLE" "$CT"
}

@test "a relative cwd is an error" {
	update_config '.process.cwd = "tmp"'
	fails_cleanly create --bundle "$BUNDLE" "$CT"
}

@test "a process that does not exist in the rootfs fails run" {
	set_args /no/such/binary
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"/no/such/binary"* ]]
	assert_nothing_left "$BEFORE" "$CT"
}

@test "an unknown namespace type is an error" {
	update_config '.linux.namespaces += [{"type": "bogus"}]'
	fails_cleanly create --bundle "$BUNDLE" "$CT"
}

@test "a container id with a slash is refused" {
	fails_cleanly create --bundle "$BUNDLE" "a/b"
	[ ! -e "$ROOT/a" ]
}

@test "a container id of .. is refused" {
	fails_cleanly create --bundle "$BUNDLE" ".."
	fails_cleanly create --bundle "$BUNDLE" "../escape"
	[ ! -e "$BATS_TEST_TMPDIR/escape" ]
}

@test "an empty container id is refused" {
	fails_cleanly create --bundle "$BUNDLE" ""
}

@test "a missing container id is refused" {
	fails_cleanly create --bundle "$BUNDLE"
}

@test "an id that is already in use is refused and the first container is kept" {
	set_args sleep 100
	create_detached "$CT"
	local state
	state=$(towel state "$CT")

	towel_captured create --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[ "$(towel state "$CT")" = "$state" ]
	[ -d "/proc/$(pid_of "$CT")" ]
}

@test "commands on an unknown container id fail" {
	local cmd
	for cmd in start state delete "kill" pause resume ps events; do
		run --separate-stderr towel $cmd nosuchcontainer
		echo "$cmd: status $status, stderr: $stderr"
		[ "$status" -ne 0 ]
		[ -n "$stderr" ]
	done
}

@test "an unknown signal is refused" {
	set_args sleep 100
	create_detached "$CT"
	run --separate-stderr towel kill "$CT" NOTASIGNAL
	[ "$status" -ne 0 ]
	one_line_error
	[ "$(status_of "$CT")" = created ]
}

@test "an unknown command is an error" {
	run --separate-stderr towel frobnicate
	[ "$status" -ne 0 ]
}

@test "an unknown flag is an error" {
	towel_captured create --no-such-flag --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	assert_nothing_left "$BEFORE" "$CT"
}

@test "a state root that is a file is an error" {
	rmdir "$ROOT"
	touch "$ROOT"
	towel_captured create --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	[ -f "$ROOT" ]
	rm "$ROOT"
}
