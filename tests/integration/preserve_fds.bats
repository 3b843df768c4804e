#!/usr/bin/env bats
# --preserve-fds and socket activation (LISTEN_FDS, LISTEN_PID): the fds
# reach the process at the same numbers, and nothing else does.

load helpers

setup() {
	setup_busybox
	T=$BATS_TEST_TMPDIR
	export T
	echo three >"$T/three"
}

teardown() {
	teardown_common
}

# fds_inside prints "N TARGET" for each fd of the container's process but
# ls's own handle on the directory it lists.
fds_inside() {
	awk '$10 == "->" && $11 !~ /^\/proc\/[0-9]+\/fd$/ { print $9, $11 }' "$@"
}

@test "--preserve-fds 2 passes fds 3 and 4 at the same numbers, and no other fd" {
	set_args ls -l /proc/self/fd
	# fd 5 is open here too, but not asked for.
	towel run --preserve-fds 2 --bundle "$BUNDLE" "$CT" \
		3<"$T/three" 4>"$T/four" 5<"$T/three" </dev/null >"$T/ls" 2>&1
	cat "$T/ls"
	run fds_inside "$T/ls"
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" = "0 /dev/null" ]
	[[ "${lines[3]}" == "3 "*/three ]]
	[[ "${lines[4]}" == "4 "*/four ]]
}

@test "preserved fds are usable in the container: read from 3, write to 4" {
	set_args sh -c 'read line <&3; echo "got:$line" >&4'
	towel run --preserve-fds 2 --bundle "$BUNDLE" "$CT" \
		3<"$T/three" 4>"$T/four" </dev/null
	[ "$(cat "$T/four")" = got:three ]
}

@test "preserved fds given to create reach the process after start" {
	set_args sh -c 'read line <&3; echo "got:$line" >&4'
	towel create --preserve-fds 2 --bundle "$BUNDLE" "$CT" \
		3<"$T/three" 4>"$T/four" </dev/null >/dev/null 2>&1
	towel start "$CT"
	for i in $(seq 100); do
		[ -s "$T/four" ] && break
		sleep 0.1
	done
	[ "$(cat "$T/four")" = got:three ]
}

@test "--preserve-fds naming an fd that is not open is an error that leaves nothing" {
	local before
	before=$(snapshot)
	set_args true
	# fd 4 is not open (bats may have one there: it is closed).
	run -1 --separate-stderr towel run --preserve-fds 2 --bundle "$BUNDLE" "$CT" 3<"$T/three" 4<&-
	[[ "$stderr" == *"--preserve-fds 2: fd 4 is not open"* ]]
	one_line_error
	# Nothing open above stderr: whatever towel has at fd 3 is its own.
	run -1 --separate-stderr towel run --preserve-fds 1 --bundle "$BUNDLE" "$CT" 3<&- 4<&-
	[[ "$stderr" == *"--preserve-fds 1: fd 3 is not open"* ]]
	run -1 towel run --preserve-fds -1 --bundle "$BUNDLE" "$CT"
	[[ "$output" == *"--preserve-fds must not be negative"* ]]
	assert_nothing_left "$before" "$CT"
}

# activated ENV... runs towel run as systemd socket activation would: with
# the environment ENV, and LISTEN_PID set to towel's own pid.
activated() {
	run env "$@" sh -c 'LISTEN_PID=$$ exec "$TOWEL_BINARY" --root "$ROOT" run --bundle "$BUNDLE" "$CT" 3<"$T/three" 4<"$T/three" </dev/null'
}

@test "socket activation: LISTEN_FDS fds are passed and announced to the process" {
	set_args sh -c 'echo "fds=$LISTEN_FDS pid=$LISTEN_PID names=$LISTEN_FDNAMES"; ls -l /proc/self/fd'
	update_config '.process.env += ["LISTEN_FDS=9", "LISTEN_PID=77"]'
	activated LISTEN_FDS=2 LISTEN_FDNAMES=a:b
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "fds=2 pid=1 names=a:b" ]
	printf '%s\n' "${lines[@]:1}" >"$T/ls"
	run fds_inside "$T/ls"
	[ "${#lines[@]}" -eq 5 ]
	[[ "${lines[3]}" == "3 "*/three ]]
	[[ "${lines[4]}" == "4 "*/three ]]
}

@test "socket activation fds come first, --preserve-fds after them" {
	set_args sh -c 'echo "fds=$LISTEN_FDS"; read line <&5; echo "five:$line"'
	echo five >"$T/five"
	run env LISTEN_FDS=2 sh -c 'LISTEN_PID=$$ exec "$TOWEL_BINARY" --root "$ROOT" run --preserve-fds 1 --bundle "$BUNDLE" "$CT" 3<"$T/three" 4<"$T/three" 5<"$T/five" </dev/null'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = fds=2 ]
	[ "${lines[1]}" = five:five ]
}

@test "socket activation meant for another process is ignored" {
	set_args sh -c 'echo "fds=${LISTEN_FDS:-none}"; ls /proc/self/fd/3 >/dev/null 2>&1 && echo has-3 || echo no-3'
	run env LISTEN_FDS=2 LISTEN_PID=1 "$TOWEL_BINARY" --root "$ROOT" run --bundle "$BUNDLE" "$CT" 3<"$T/three" 4<"$T/three" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = fds=none ]
	[ "${lines[1]}" = no-3 ]
}
