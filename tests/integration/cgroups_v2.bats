#!/usr/bin/env bats
# cgroup v2: each test runs towel in a mount namespace where /sys/fs/cgroup
# is cgroup2 (see cgroup-helpers.bash). That hierarchy has only the
# hugetlb controller on the test machine, so the other controllers' files
# are covered by the fs2 unit tests; what is tested here is what the
# kernel does for real: hugetlb limits, unified keys, the freezer,
# cgroup.kill, cgroup.procs and pre-existing cgroups.

load helpers
load cgroup-helpers

setup() {
	setup_busybox
	requires_v2_namespace
	set_args sleep 1000
}

teardown() {
	teardown_cgroup_ns
	teardown_common
	local p
	for p in "$UNIFIED"/towel-test-$$-*; do
		[ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} \;
	done
	return 0
}

# requires_hugetlb skips the test unless the cgroup2 root can hand the
# hugetlb controller down, with 2MB pages.
requires_hugetlb() {
	grep -qw hugetlb "$UNIFIED/cgroup.controllers" ||
		skip "no hugetlb controller in the cgroup2 hierarchy"
	[ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] ||
		skip "no 2MB huge pages on this machine"
}

# wait_for_empty DIR waits up to 10 s for the cgroup DIR to have no
# process left.
wait_for_empty() {
	local i
	for i in $(seq 100); do
		[ -z "$(cat "$1/cgroup.procs")" ] && return 0
		sleep 0.1
	done
	echo "processes left in $1: $(cat "$1/cgroup.procs")" >&2
	return 1
}

@test "v2: hugetlb limits are written to hugetlb.<size>.max and .rsvd.max" {
	requires_hugetlb
	update_config '.linux.resources.hugepageLimits = [
		{"pageSize": "2MB", "limit": 8388608}]'
	in_v2 'run_detached "$CT"'
	local dir=$UNIFIED/$CT
	[ "$(cat "$dir/hugetlb.2MB.max")" = 8388608 ]
	if [ -e "$dir/hugetlb.2MB.rsvd.max" ]; then
		[ "$(cat "$dir/hugetlb.2MB.rsvd.max")" = 8388608 ]
	fi
}

@test "v2: unified keys are written as they are" {
	requires_hugetlb
	update_config '.linux.resources.unified = {
		"hugetlb.2MB.max": "4194304", "cgroup.max.descendants": "7"}'
	in_v2 'run_detached "$CT"'
	[ "$(cat "$UNIFIED/$CT/hugetlb.2MB.max")" = 4194304 ]
	[ "$(cat "$UNIFIED/$CT/cgroup.max.descendants")" = 7 ]
}

@test "v2: a unified key of a controller that is not enabled fails create clearly and leaves nothing" {
	grep -qw memory "$UNIFIED/cgroup.controllers" &&
		skip "the memory controller is enabled here"
	update_config '.linux.resources.unified = {"memory.max": "1G"}'
	local before
	before=$(snapshot)
	run --separate-stderr in_v2 'towel create --bundle "$BUNDLE" "$CT" \
		</dev/null >/dev/null'
	echo "$stderr"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"memory.max"* ]]
	[[ "$stderr" == *"controller"*"not enabled"* ]]
	assert_nothing_left "$before" "$CT"
	[ ! -d "$UNIFIED/$CT" ]
}

@test "v2: a memory limit without the memory controller fails create clearly and leaves nothing" {
	grep -qw memory "$UNIFIED/cgroup.controllers" &&
		skip "the memory controller is enabled here"
	update_config '.linux.resources.memory = {"limit": 33554432}'
	local before
	before=$(snapshot)
	run --separate-stderr in_v2 'towel create --bundle "$BUNDLE" "$CT" \
		</dev/null >/dev/null'
	echo "$stderr"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"memory"* ]]
	assert_nothing_left "$before" "$CT"
	[ ! -d "$UNIFIED/$CT" ]
}

@test "v2: update changes the limits of a running container without killing it" {
	requires_hugetlb
	update_config '.linux.resources.hugepageLimits = [
		{"pageSize": "2MB", "limit": 2097152}]'
	echo '{"hugepageLimits": [{"pageSize": "2MB", "limit": 10485760}],
		"unified": {"cgroup.max.depth": "3"}}' >"$BATS_TEST_TMPDIR/r.json"
	# shellcheck disable=SC2016 # expanded in the namespace
	run in_v2 '
		set -e
		run_detached "$CT"
		pid=$(pid_of "$CT")
		towel update -r "$BATS_TEST_TMPDIR/r.json" "$CT"
		[ "$(pid_of "$CT")" = "$pid" ] && echo "same pid"
		echo "status $(status_of "$CT")"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "same pid" ]
	[ "${lines[1]}" = "status running" ]
	[ "$(cat "$UNIFIED/$CT/hugetlb.2MB.max")" = 10485760 ]
	[ "$(cat "$UNIFIED/$CT/cgroup.max.depth")" = 3 ]
}

@test "v2: kill KILL of a container without a PID namespace kills every process by cgroup.kill" {
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'sleep 1000 & sleep 1000 & exec sleep 1000'
	in_v2 'run_detached "$CT"'
	sleep 0.3
	[ "$(wc -l <"$UNIFIED/$CT/cgroup.procs")" -eq 3 ]

	# shellcheck disable=SC2016 # expanded in the namespace
	in_v2 'strace -f -qq -e trace=openat -o "$BATS_TEST_TMPDIR/trace" \
		"$TOWEL_BINARY" --root "$ROOT" kill "$CT" KILL'
	wait_for_empty "$UNIFIED/$CT"
	grep -q "/$CT/cgroup.kill\", O_WRONLY" "$BATS_TEST_TMPDIR/trace"
}

@test "v2: kill TERM of a container without a PID namespace reaches every process" {
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'sleep 1000 & sleep 1000 & exec sleep 1000'
	in_v2 'run_detached "$CT"'
	sleep 0.3
	[ "$(wc -l <"$UNIFIED/$CT/cgroup.procs")" -eq 3 ]

	in_v2 'towel kill "$CT" TERM'
	wait_for_empty "$UNIFIED/$CT"
	# Frozen to signal every process at once, then thawed again.
	[ "$(cat "$UNIFIED/$CT/cgroup.freeze")" = 0 ]
}

@test "v2: pause and resume freeze and thaw the cgroup" {
	# shellcheck disable=SC2016 # expanded in the namespace
	run in_v2 '
		set -e
		run_detached "$CT"
		towel pause "$CT"
		echo "paused: $(status_of "$CT")"
		grep "^frozen" "/sys/fs/cgroup/$CT/cgroup.events"
		towel resume "$CT"
		echo "resumed: $(status_of "$CT")"
		grep "^frozen" "/sys/fs/cgroup/$CT/cgroup.events"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "paused: paused" ]
	[ "${lines[1]}" = "frozen 1" ]
	[ "${lines[2]}" = "resumed: running" ]
	[ "${lines[3]}" = "frozen 0" ]
}

@test "v2: exec joins the container's cgroup" {
	update_config '.linux.namespaces |= map(select(.type != "cgroup"))'
	run in_v2 'run_detached "$CT" &&
		towel exec "$CT" grep "^0::" /proc/self/cgroup'
	[ "$status" -eq 0 ]
	[ "$output" = "0::/$CT" ]
}

@test "v2: a pre-existing cgroup with a process in it is refused and left alone" {
	local path=/towel-test-$$-pre-$BATS_TEST_NUMBER
	mkdir "$UNIFIED$path"
	sleep 1000 &
	local sleeper=$!
	echo "$sleeper" >"$UNIFIED$path/cgroup.procs"
	update_config '.linux.cgroupsPath = $p' --arg p "$path"

	run --separate-stderr in_v2 'towel create --bundle "$BUNDLE" "$CT" \
		</dev/null >/dev/null'
	local procs
	procs=$(cat "$UNIFIED$path/cgroup.procs")
	kill "$sleeper"
	wait "$sleeper" || true
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"cgroup is not empty: 1 process(es) found"* ]]
	[ "$procs" = "$sleeper" ]
	[ ! -d "$ROOT/$CT" ]
}

@test "v2: a pre-existing frozen cgroup is refused and left alone" {
	local path=/towel-test-$$-pre-$BATS_TEST_NUMBER
	mkdir "$UNIFIED$path"
	echo 1 >"$UNIFIED$path/cgroup.freeze"
	update_config '.linux.cgroupsPath = $p' --arg p "$path"

	run --separate-stderr in_v2 'towel create --bundle "$BUNDLE" "$CT" \
		</dev/null >/dev/null'
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"cgroup unexpectedly frozen"* ]]
	[ "$(cat "$UNIFIED$path/cgroup.freeze")" = 1 ]
	[ -z "$(cat "$UNIFIED$path/cgroup.procs")" ]
}

@test "v2: a nested cgroupsPath gets its controllers on the way down" {
	requires_hugetlb
	local parent=towel-test-$$-nest-$BATS_TEST_NUMBER
	update_config '.linux.cgroupsPath = $p
		| .linux.resources.hugepageLimits = [
			{"pageSize": "2MB", "limit": 4194304}]' \
		--arg p "/$parent/a/$CT"
	in_v2 'run_detached "$CT"'
	local dir=$UNIFIED/$parent/a/$CT
	[ "$(cat "$dir/hugetlb.2MB.max")" = 4194304 ]
	grep -qw hugetlb "$UNIFIED/$parent/a/cgroup.subtree_control"

	in_v2 'towel delete --force "$CT"'
	[ ! -d "$dir" ]
	[ -d "$UNIFIED/$parent/a" ]
}

@test "v2: events --stats reports the cgroup's counters" {
	requires_hugetlb
	update_config '.linux.resources.hugepageLimits = [
		{"pageSize": "2MB", "limit": 4194304}]'
	run in_v2 'run_detached "$CT" && towel events --stats "$CT"'
	[ "$status" -eq 0 ]
	[ "$(jq -r .type <<<"$output")" = stats ]
	# runc's schema: usage is left out while it is 0, failcnt is not.
	[ "$(jq -r '.data.hugetlb["2MB"] | has("failcnt")' <<<"$output")" = true ]
	[ "$(jq -r '.data.pids.current' <<<"$output")" = 1 ]
	[ "$(jq -r '.data.cpu.usage.total > 0' <<<"$output")" = true ]
}
