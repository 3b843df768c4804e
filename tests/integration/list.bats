#!/usr/bin/env bats
# towel list: the containers under one --root.

load helpers

setup() {
	setup_busybox
	set_args sleep 100
}

teardown() {
	teardown_common
}

@test "list shows a table with runc's header and one row per container" {
	create_detached "$CT"
	run_detached "$CT2"

	run towel list
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER$ ]]
	[ "${#lines[@]}" -eq 3 ]

	local row
	row=$(printf '%s\n' "${lines[@]}" | grep "^$CT ")
	[[ "$row" =~ ^$CT\ +$(pid_of "$CT")\ +created\ +$BUNDLE\ +[0-9T:.-]+Z\ +root$ ]]
	row=$(printf '%s\n' "${lines[@]}" | grep "^$CT2 ")
	[[ "$row" =~ ^$CT2\ +$(pid_of "$CT2")\ +running\ + ]]
}

@test "list of an empty root prints only the header" {
	mkdir -p "$ROOT"
	run towel list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" =~ ^ID\ +PID ]]
}

@test "list --quiet prints only the ids" {
	create_detached "$CT"
	create_detached "$CT2"

	run towel list --quiet
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]}" | sort)" = "$(printf '%s\n' "$CT" "$CT2" | sort)" ]

	run towel list -q
	[ "${#lines[@]}" -eq 2 ]
}

@test "list --format json prints the state of each container" {
	update_config '.annotations = {"k": "v"}'
	create_detached "$CT"

	run towel list --format json
	[ "$status" -eq 0 ]
	jq -e 'length == 1' <<<"$output"
	jq -e --arg id "$CT" '.[0].id == $id' <<<"$output"
	jq -e '.[0].ociVersion == "1.2.0"' <<<"$output"
	jq -e ".[0].pid == $(pid_of "$CT")" <<<"$output"
	jq -e '.[0].status == "created"' <<<"$output"
	jq -e --arg b "$BUNDLE" '.[0].bundle == $b' <<<"$output"
	jq -e --arg r "$BUNDLE/rootfs" '.[0].rootfs == $r' <<<"$output"
	jq -e '.[0].created | test("Z$")' <<<"$output"
	jq -e '.[0].owner == "root"' <<<"$output"
	jq -e '.[0].annotations == {"k": "v"}' <<<"$output"

	run towel list -f json
	[ "$status" -eq 0 ]
	jq -e 'length == 1' <<<"$output"
}

@test "list --format json of an empty root is an empty list" {
	mkdir -p "$ROOT"
	run towel list --format json
	[ "$status" -eq 0 ]
	jq -e 'length == 0' <<<"$output"
}

@test "list shows a stopped container with pid 0" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped

	run towel list --format json
	jq -e '.[0].status == "stopped" and .[0].pid == 0' <<<"$output"
}

@test "list with an unknown format fails" {
	mkdir -p "$ROOT"
	run --separate-stderr towel list --format yaml
	[ "$status" -ne 0 ]
	one_line_error
}

@test "list with a --root that does not exist fails" {
	run --separate-stderr "$TOWEL" --root "$BATS_TEST_TMPDIR/missing" list
	[ "$status" -ne 0 ]
	one_line_error
	[ ! -e "$BATS_TEST_TMPDIR/missing" ]
}
