#!/usr/bin/env bats
# ps: the processes of a container's cgroup, as a ps(1) table or JSON.

load helpers

setup() {
	setup_busybox
	set_args sleep 1000
}

teardown() {
	teardown_common
}

@test "ps prints ps -ef's header and the container's processes only" {
	run_detached "$CT"
	local init extra
	init=$(pid_of "$CT")
	towel exec -d --pid-file "$BATS_TEST_TMPDIR/pid" "$CT" sleep 999
	extra=$(cat "$BATS_TEST_TMPDIR/pid")

	run towel ps "$CT"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^UID\ +PID\ +PPID ]]
	[ "${#lines[@]}" -eq 3 ]
	[ "$(awk 'NR > 1 { print $2 }' <<<"$output" | sort -n | xargs)" = \
		"$(printf '%s\n' "$init" "$extra" | sort -n | xargs)" ]
	[[ "$output" == *"sleep 1000"* ]]
	[[ "$output" == *"sleep 999"* ]]
}

@test "ps --format json prints the host pids as a JSON array" {
	run_detached "$CT"
	run towel ps --format json "$CT"
	[ "$status" -eq 0 ]
	jq -e --argjson p "$(pid_of "$CT")" '. == [$p]' <<<"$output"

	run towel ps -f json "$CT"
	jq -e 'type == "array" and length == 1' <<<"$output"
}

@test "ps passes the arguments after the id to ps(1)" {
	run_detached "$CT"
	run towel ps "$CT" -- -o pid,comm
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^\ *PID\ +COMMAND$ ]]
	[[ "${lines[1]}" =~ ^\ *$(pid_of "$CT")\ +sleep$ ]]
	[ "${#lines[@]}" -eq 2 ]
}

@test "ps with ps arguments that drop the PID column is an error" {
	run_detached "$CT"
	run --separate-stderr towel ps "$CT" -- -o comm
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *PID* ]]
}

@test "ps of a created container lists its init" {
	create_detached "$CT"
	run towel ps --format json "$CT"
	[ "$status" -eq 0 ]
	jq -e --argjson p "$(pid_of "$CT")" '. == [$p]' <<<"$output"
}

@test "ps of a stopped container prints an empty list" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped
	run towel ps --format json "$CT"
	[ "$status" -eq 0 ]
	[ "$output" = "[]" ]
}

@test "ps of an unknown container is an error" {
	run --separate-stderr towel ps nosuchct
	[ "$status" -ne 0 ]
	one_line_error
}

@test "ps with an unknown format is an error" {
	run_detached "$CT"
	run --separate-stderr towel ps --format yaml "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *format* ]]
}
