#!/usr/bin/env bats
# towel kill: signals to the container's init.

load helpers

setup() {
	setup_busybox
	# A shell as PID 1 only acts on signals it has a handler for, so the
	# handlers report which signal came.
	set_args sh -c 'for s in TERM INT HUP USR1 USR2; do trap "echo $s >/tmp/sig; exit 0" $s; done
		while :; do sleep 0.1; done'
	update_config '.root.readonly = false'
}

teardown() {
	teardown_common
}

# kill_and_check ARGS... sends a signal with `towel kill $CT ARGS...` and
# prints the name the container's handler saw.
kill_and_check() {
	run_detached "$CT"
	sleep 0.3
	towel kill "$CT" "$@"
	wait_for_status "$CT" stopped
	cat "$BUNDLE/rootfs/tmp/sig"
}

@test "kill sends SIGTERM by default" {
	[ "$(kill_and_check)" = TERM ]
}

@test "kill takes a signal name with SIG" {
	[ "$(kill_and_check SIGUSR1)" = USR1 ]
}

@test "kill takes a signal name without SIG" {
	[ "$(kill_and_check HUP)" = HUP ]
}

@test "kill takes a signal name in lower case" {
	[ "$(kill_and_check usr2)" = USR2 ]
}

@test "kill takes a signal number" {
	[ "$(kill_and_check 2)" = INT ]
}

@test "kill KILL stops a process that ignores TERM" {
	set_args sleep 100
	run_detached "$CT"

	towel kill "$CT" KILL
	wait_for_status "$CT" stopped
}

@test "kill 9 stops the container" {
	set_args sleep 100
	run_detached "$CT"

	towel kill "$CT" 9
	wait_for_status "$CT" stopped
}

@test "kill of a created container signals its init" {
	set_args sleep 100
	create_detached "$CT"

	run towel kill "$CT" KILL
	[ "$status" -eq 0 ]
	wait_for_status "$CT" stopped
}

@test "kill with an unknown signal fails and signals nothing" {
	run_detached "$CT"

	run --separate-stderr towel kill "$CT" SIGNOPE
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"unknown signal"* ]]
	one_line_error
	[ "$(status_of "$CT")" = running ]
}

@test "kill of an unknown container fails" {
	mkdir -p "$ROOT"
	run --separate-stderr towel kill nosuchcontainer KILL
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"does not exist"* ]]
	one_line_error
}

@test "kill of a stopped container fails" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped

	run --separate-stderr towel kill "$CT" KILL
	[ "$status" -ne 0 ]
	one_line_error
}

@test "kill --all still works but warns that it is deprecated" {
	set_args sh -c 'sleep 100 & exec sleep 100'
	run_detached "$CT"

	run --separate-stderr towel kill --all "$CT" KILL
	[ "$status" -eq 0 ]
	grep -qiE 'deprecat|obsolete' <<<"$stderr"
	wait_for_status "$CT" stopped
}

@test "kill takes no more than two arguments" {
	run_detached "$CT"

	run --separate-stderr towel kill "$CT" KILL extra
	[ "$status" -ne 0 ]
	[ "$(status_of "$CT")" = running ]
}
