#!/usr/bin/env bats
# NOTIFY_SOCKET: the container gets a socket at the same path, towel
# relays its sd_notify messages to the host socket, and run -d and start
# return only once READY=1 has been relayed.

load helpers

setup() {
	setup_busybox
	T=$BATS_TEST_TMPDIR
	local sdnotify
	sdnotify=$(go_helper sdnotify)
	cp "$sdnotify" "$BUNDLE/rootfs/bin/sdnotify"

	# The service manager: prints each message on a line of $T/host.log.
	mkdir "$T/host"
	NOTIFY_SOCKET=$T/host/notify.sock
	"$sdnotify" listen "$NOTIFY_SOCKET" "$T/host.pid" \
		</dev/null >"$T/host.log" 2>&1 3>&- &
	wait_for_file "$T/host.pid"
	export NOTIFY_SOCKET
}

teardown() {
	[ -f "$T/host.pid" ] && kill "$(cat "$T/host.pid")" 2>/dev/null
	teardown_common
}

# host_got LINE checks that the service manager got exactly LINE.
host_got() {
	grep -qxF -- "$1" "$T/host.log" || {
		echo "no \"$1\" in:" >&2
		cat "$T/host.log" >&2
		return 1
	}
}

@test "the container finds the notify socket at the same path, named by NOTIFY_SOCKET" {
	set_args sh -c 'echo "$NOTIFY_SOCKET"; test -S "$NOTIFY_SOCKET" && echo socket'
	update_config '.process.env += ["NOTIFY_SOCKET=/elsewhere"]'
	run towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$NOTIFY_SOCKET" ]
	[ "${lines[1]}" = socket ]
}

@test "run -d returns only once READY=1 has been relayed, with init as MAINPID" {
	# Slow to get ready: run -d must wait for it.
	set_args sh -c 'sdnotify send STATUS=starting; sleep 1; sdnotify send READY=1 STATUS=up; exec sleep 100'
	run_detached "$CT"
	# No waiting here: it must all be there already.
	host_got STATUS=starting
	host_got "READY=1;STATUS=up"
	host_got "MAINPID=$(pid_of "$CT")"
	[ "$(status_of "$CT")" = running ]
}

@test "start returns only once READY=1 has been relayed" {
	set_args sh -c 'sleep 1; sdnotify send READY=1; exec sleep 100'
	create_detached "$CT"
	[ ! -s "$T/host.log" ]
	towel start "$CT"
	host_got READY=1
	host_got "MAINPID=$(pid_of "$CT")"
}

@test "MAINPID from the container is not relayed, and BARRIER=1 confirms the rest" {
	set_args sh -c 'sdnotify send MAINPID=1 STATUS=mine; sdnotify send READY=1; exec sleep 100'
	run_detached "$CT"
	host_got STATUS=mine
	! grep -q MAINPID=1$ "$T/host.log"
	# The barrier towel sends carries a pipe, which the host closed.
	host_got "BARRIER=1 fds=1"
}

@test "a foreground run relays messages until the process exits, the last one too" {
	set_args sh -c 'sdnotify send READY=1; sdnotify send STATUS=bye'
	run towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	host_got READY=1
	host_got STATUS=bye
	# Towel is the service's main process itself.
	! grep -q MAINPID "$T/host.log"
}

@test "run -d of a process that exits before READY=1 returns, with a warning" {
	set_args sh -c 'sdnotify send STATUS=failing; exit 1'
	run --separate-stderr towel run -d --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"exited before it sent READY=1"* ]]
	host_got STATUS=failing
}

@test "a NOTIFY_SOCKET nobody listens on is an error that leaves nothing" {
	local before
	before=$(snapshot)
	set_args true
	NOTIFY_SOCKET=$T/nobody.sock run -1 --separate-stderr towel run -d --bundle "$BUNDLE" "$CT" </dev/null
	[[ "$stderr" == *"NOTIFY_SOCKET $T/nobody.sock"* ]]
	one_line_error
	assert_nothing_left "$before" "$CT"
}

@test "a container created without NOTIFY_SOCKET is started without waiting" {
	set_args sleep 100
	NOTIFY_SOCKET= create_detached "$CT"
	run timeout 10 "$TOWEL" --root "$ROOT" start "$CT"
	[ "$status" -eq 0 ]
	[ "$(status_of "$CT")" = running ]
	[ ! -s "$T/host.log" ]
}
