#!/usr/bin/env bats
# pause and resume: the cgroup freezer, as runc drives it.

load helpers

setup() {
	setup_busybox
	set_args sleep 1000
}

teardown() {
	teardown_common
}

# frozen PID prints whether the kernel has PID frozen: its v1 freezer
# cgroup's state, or cgroup.freeze on v2.
frozen() {
	local dir
	dir=$(cgroup_dir "$1" freezer)
	if [ -e "$dir/freezer.state" ]; then
		[ "$(cat "$dir/freezer.state")" = FROZEN ] && echo yes || echo no
	else
		[ "$(cat "$dir/cgroup.freeze")" = 1 ] && echo yes || echo no
	fi
}

@test "pause freezes every process and state shows paused; resume thaws them" {
	run_detached "$CT"
	towel exec -d "$CT" sleep 999 </dev/null >/dev/null
	local pid
	pid=$(pid_of "$CT")

	run towel pause "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(status_of "$CT")" = paused ]
	[ "$(frozen "$pid")" = yes ]
	towel list | grep -q "^$CT .* paused "

	run towel resume "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(status_of "$CT")" = running ]
	[ "$(frozen "$pid")" = no ]
}

@test "a paused container does not run" {
	set_args sh -c 'while :; do date +%s%N > /tmp/tick; sleep 0.05; done'
	update_config '.root.readonly = false'
	run_detached "$CT"
	wait_for_file "$BUNDLE/rootfs/tmp/tick"
	towel pause "$CT"
	local before
	before=$(cat "$BUNDLE/rootfs/tmp/tick")
	sleep 0.5
	[ "$(cat "$BUNDLE/rootfs/tmp/tick")" = "$before" ]
	towel resume "$CT"
	sleep 0.5
	[ "$(cat "$BUNDLE/rootfs/tmp/tick")" != "$before" ]
}

@test "a created container can be paused and resumed" {
	create_detached "$CT"
	towel pause "$CT"
	[ "$(status_of "$CT")" = paused ]
	towel resume "$CT"
	[ "$(status_of "$CT")" = created ]
}

@test "pause of a paused or stopped container is an error" {
	run_detached "$CT"
	towel pause "$CT"
	run --separate-stderr towel pause "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[ "$(status_of "$CT")" = paused ]

	set_args true
	create_detached "$CT2"
	towel start "$CT2"
	wait_for_status "$CT2" stopped
	run --separate-stderr towel pause "$CT2"
	[ "$status" -ne 0 ]
	one_line_error
}

@test "resume of a container that is not paused is an error" {
	run_detached "$CT"
	run --separate-stderr towel resume "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"not paused"* ]]
	[ "$(status_of "$CT")" = running ]
}

@test "a paused container can be killed and deleted" {
	run_detached "$CT"
	towel pause "$CT"
	run towel delete --force "$CT"
	[ "$status" -eq 0 ]
	[ -z "$(status_of "$CT")" ]
	[ -z "$(cgroups_named "$CT")" ]
}

@test "pause and resume of an unknown container are errors" {
	run --separate-stderr towel pause nosuchct
	[ "$status" -ne 0 ]
	one_line_error
	run --separate-stderr towel resume nosuchct
	[ "$status" -ne 0 ]
	one_line_error
}
