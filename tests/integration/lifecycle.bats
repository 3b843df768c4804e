#!/usr/bin/env bats
# create, start, state, run and delete: the container lifecycle.

load helpers

setup() {
	setup_busybox
}

teardown() {
	teardown_common
}

@test "create leaves the container created, start runs it, it stops when its process exits" {
	set_args sh -c 'read line; echo "got $line"'
	mkfifo "$BATS_TEST_TMPDIR/in"
	# Holding the fifo open keeps the process waiting until we write.
	exec 5<>"$BATS_TEST_TMPDIR/in"
	towel create --bundle "$BUNDLE" "$CT" \
		<"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1
	[ "$(status_of "$CT")" = created ]

	run towel start "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(status_of "$CT")" = running ]

	echo hello >&5
	exec 5>&-
	wait_for_status "$CT" stopped
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "got hello" ]
}

@test "the process does not run before start" {
	set_args sh -c 'touch /tmp/started; sleep 100'
	update_config '.root.readonly = false'
	create_detached "$CT"

	sleep 0.5
	[ ! -e "$BUNDLE/rootfs/tmp/started" ]

	towel start "$CT"
	wait_for_file "$BUNDLE/rootfs/tmp/started"
}

@test "state prints the OCI state JSON with runc's fields" {
	set_args sleep 100
	create_detached "$CT"

	run towel state "$CT"
	[ "$status" -eq 0 ]
	local state=$output

	jq -e '.ociVersion == "1.2.0"' <<<"$state"
	jq -e --arg id "$CT" '.id == $id' <<<"$state"
	jq -e '.status == "created"' <<<"$state"
	jq -e '.pid > 0' <<<"$state"
	jq -e --arg b "$BUNDLE" '.bundle == $b' <<<"$state"
	jq -e --arg r "$BUNDLE/rootfs" '.rootfs == $r' <<<"$state"
	jq -e 'has("owner")' <<<"$state"
	# RFC 3339 with nanoseconds, in UTC.
	jq -e '.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")' <<<"$state"
	jq -e 'has("annotations") | not' <<<"$state"

	# The pid is the container's init, in the container's pid namespace.
	local pid
	pid=$(jq -r .pid <<<"$state")
	[ "$(readlink "/proc/$pid/ns/pid")" != "$(host_ns pid)" ]
}

@test "state shows the config's annotations" {
	set_args sleep 100
	update_config '.annotations = {"org.example.key": "value", "other": "2"}'
	create_detached "$CT"

	run towel state "$CT"
	[ "$status" -eq 0 ]
	jq -e '.annotations == {"org.example.key": "value", "other": "2"}' <<<"$output"
}

@test "state of a stopped container has pid 0" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped

	run towel state "$CT"
	[ "$status" -eq 0 ]
	jq -e '.status == "stopped" and .pid == 0' <<<"$output"
}

@test "state of an unknown container fails" {
	run --separate-stderr towel state nosuchcontainer
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"does not exist"* ]]
	one_line_error
}

@test "run prints the process's output and exits 0 with it" {
	in_container echo hello from inside
	[ "$status" -eq 0 ]
	[ "$output" = "hello from inside" ]
	# A run without --detach deletes the container on the way out.
	[ -z "$(towel list -q)" ]
}

@test "run exits with the process's exit status" {
	in_container sh -c 'exit 3'
	[ "$status" -eq 3 ]

	in_container sh -c 'exit 255'
	[ "$status" -eq 255 ]
}

@test "run of a process killed by a signal exits 128 plus the signal" {
	set_args sleep 100
	towel run --bundle "$BUNDLE" "$CT" </dev/null >/dev/null 2>&1 &
	local runpid=$!
	wait_for_status "$CT" running

	towel kill "$CT" KILL
	local rc=0
	wait "$runpid" || rc=$?
	[ "$rc" -eq 137 ]
}

@test "run forwards a signal it receives to the container" {
	set_args sh -c 'trap "exit 42" USR1; while :; do sleep 0.1; done'
	# Not the towel function: $! must be the runtime itself.
	"$TOWEL" --root "$ROOT" run --bundle "$BUNDLE" "$CT" </dev/null >/dev/null 2>&1 &
	local runpid=$!
	wait_for_status "$CT" running
	# The trap must be set before the signal comes.
	sleep 0.3

	kill -USR1 "$runpid"
	local rc=0
	wait "$runpid" || rc=$?
	[ "$rc" -eq 42 ]
}

@test "run passes stdin to the process" {
	set_args cat
	run towel run --bundle "$BUNDLE" "$CT" <<<"piped input"
	[ "$status" -eq 0 ]
	[ "$output" = "piped input" ]
}

@test "run --detach returns while the container runs" {
	set_args sleep 100
	run_detached "$CT"

	[ "$(status_of "$CT")" = running ]
	local pid
	pid=$(pid_of "$CT")
	[ -d "/proc/$pid" ]
}

@test "run --bundle defaults to the current directory" {
	set_args echo here
	cd "$BUNDLE"
	run towel run "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = here ]
}

@test "run --pid-file writes the init pid" {
	set_args sleep 100
	run_detached "$CT" --pid-file "$BATS_TEST_TMPDIR/pid"

	[ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(pid_of "$CT")" ]
}

@test "create --pid-file writes the init pid" {
	set_args sleep 100
	create_detached "$CT" --pid-file "$BATS_TEST_TMPDIR/pid"

	[ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(pid_of "$CT")" ]
}

@test "start of a running container fails" {
	set_args sleep 100
	run_detached "$CT"

	run --separate-stderr towel start "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[ "$(status_of "$CT")" = running ]
}

@test "start of a stopped container fails" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped

	run --separate-stderr towel start "$CT"
	[ "$status" -ne 0 ]
	one_line_error
}

@test "delete removes a stopped container and its state" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped

	run towel delete "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$ROOT/$CT" ]
	run towel state "$CT"
	[ "$status" -ne 0 ]
}

@test "delete of a running container fails and leaves it running" {
	set_args sleep 100
	run_detached "$CT"

	run --separate-stderr towel delete "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[ "$(status_of "$CT")" = running ]
}

@test "delete of a created container removes it" {
	set_args sleep 100
	local before
	before=$(snapshot)
	create_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	run towel delete "$CT"
	[ "$status" -eq 0 ]
	[ ! -e "/proc/$pid" ] || [ "$(awk '/^State:/ {print $2}' "/proc/$pid/status")" = Z ]
	assert_nothing_left "$before" "$CT"
}

@test "delete --force kills and removes a running container" {
	set_args sleep 100
	local before
	before=$(snapshot)
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	run towel delete --force "$CT"
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/$CT" ]
	run towel state "$CT"
	[ "$status" -ne 0 ]
	assert_nothing_left "$before" "$CT"
}

@test "delete --force kills every process of the container" {
	set_args sh -c 'sleep 100 & sleep 100 & exec sleep 100'
	local before procs
	before=$(snapshot)
	procs=$(count_procs)
	run_detached "$CT"
	sleep 0.3
	[ "$(count_procs)" -ge $((procs + 3)) ]

	towel delete --force "$CT"
	assert_nothing_left "$before" "$CT"
}

@test "delete of an unknown container fails, delete --force of one succeeds" {
	run --separate-stderr towel delete nosuchcontainer
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"does not exist"* ]]
	one_line_error

	run towel delete --force nosuchcontainer
	[ "$status" -eq 0 ]
}

@test "a container id can be used again after delete" {
	in_container true
	[ "$status" -eq 0 ]
	in_container true
	[ "$status" -eq 0 ]
}
