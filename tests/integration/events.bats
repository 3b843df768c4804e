#!/usr/bin/env bats
# events: stats and OOM notifications as JSON lines, in runc's schema.

load helpers

setup() {
	setup_busybox
	set_args sleep 1000
}

teardown() {
	teardown_common
}

@test "events --stats prints one stats event with runc's fields" {
	update_config '.linux.resources.memory = {"limit": 67108864}
		| .linux.resources.pids = {"limit": 42}'
	run_detached "$CT"
	run towel events --stats "$CT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	local ev=$output

	jq -e --arg id "$CT" '.type == "stats" and .id == $id' <<<"$ev"
	jq -e '.data | has("cpu") and has("cpuset") and has("memory") and
		has("pids") and has("blkio") and has("hugetlb") and
		has("intel_rdt") and has("network_interfaces")' <<<"$ev"
	jq -e '.data.memory.usage.limit == 67108864' <<<"$ev"
	jq -e '.data.memory.usage.usage > 0' <<<"$ev"
	jq -e '.data.pids == {"current": 1, "limit": 42}' <<<"$ev"
	jq -e '.data.cpu.usage.total > 0 and (.data.cpu.usage | has("kernel") and has("user"))' <<<"$ev"
	jq -e '.data.hugetlb | type == "object"' <<<"$ev"
}

@test "events counts the processes an exec adds" {
	run_detached "$CT"
	towel exec -d "$CT" sleep 999 </dev/null >/dev/null
	run towel events --stats "$CT"
	jq -e '.data.pids.current == 2' <<<"$output"
}

@test "events streams stats at the interval until the container is deleted" {
	run_detached "$CT"
	towel events --interval 200ms "$CT" >"$BATS_TEST_TMPDIR/events" &
	local events_pid=$!
	sleep 1.5
	towel delete --force "$CT"
	# The stream ends by itself once the container is gone.
	local i
	for i in $(seq 50); do
		kill -0 "$events_pid" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$events_pid" 2>/dev/null
	wait "$events_pid"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/events")" -ge 3 ]
	jq -e -s --arg id "$CT" 'all(.type == "stats" and .id == $id)' \
		"$BATS_TEST_TMPDIR/events"
}

@test "events reports an oom event when the OOM killer acts in the container" {
	update_config '.linux.resources.memory = {"limit": 16777216}
		| .root.readonly = false'
	run_detached "$CT"
	towel events --interval 1h "$CT" >"$BATS_TEST_TMPDIR/events" &
	local events_pid=$!
	sleep 0.5
	# tail keeps all of an endless line in memory.
	towel exec "$CT" tail /dev/zero || true
	local i
	for i in $(seq 50); do
		grep -q oom "$BATS_TEST_TMPDIR/events" && break
		sleep 0.1
	done
	kill "$events_pid"
	jq -e -s --arg id "$CT" 'any(.type == "oom" and .id == $id and (has("data") | not))' \
		"$BATS_TEST_TMPDIR/events"
}

@test "events of a stopped container is an error" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped
	run --separate-stderr towel events --stats "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"not running"* ]]
}

@test "events with an interval that is not positive is an error" {
	run_detached "$CT"
	run --separate-stderr towel events --interval 0s "$CT"
	[ "$status" -ne 0 ]
	one_line_error
}

@test "events of an unknown container is an error" {
	run --separate-stderr towel events --stats nosuchct
	[ "$status" -ne 0 ]
	one_line_error
}
