#!/usr/bin/env bats
# cgroups: limits from linux.resources land in the container's cgroup, and
# the cgroup goes with the container.

load helpers

setup() {
	setup_busybox
	set_args sleep 100
}

teardown() {
	teardown_common
	# A relative cgroupsPath leaves its parent directory, as runc does.
	find /sys/fs/cgroup -depth -type d -name "towel-parent-$$" \
		-exec rmdir {} \; 2>/dev/null || true
}

@test "the container gets a cgroup of its own in every hierarchy" {
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	# Every line of /proc/PID/cgroup differs from towel's own.
	run diff "/proc/$pid/cgroup" /proc/self/cgroup
	[ "$status" -ne 0 ]
	grep -q "$CT" "/proc/$pid/cgroup"
}

@test "a memory limit is written to the container's cgroup" {
	update_config '.linux.resources.memory = {"limit": 33554432}'
	run_detached "$CT"
	local dir
	dir=$(cgroup_dir "$(pid_of "$CT")" memory)

	if [ -e "$dir/memory.limit_in_bytes" ]; then
		[ "$(cat "$dir/memory.limit_in_bytes")" = 33554432 ]
	else
		[ "$(cat "$dir/memory.max")" = 33554432 ]
	fi
}

@test "a memory and swap limit are written together" {
	[ -e "$(cgroup_dir $$ memory)/memory.memsw.limit_in_bytes" ] ||
		cgroup_v2 || skip "no swap accounting on this host"
	update_config '.linux.resources.memory = {"limit": 33554432, "swap": 67108864}'
	run_detached "$CT"
	local dir
	dir=$(cgroup_dir "$(pid_of "$CT")" memory)

	if [ -e "$dir/memory.memsw.limit_in_bytes" ]; then
		[ "$(cat "$dir/memory.memsw.limit_in_bytes")" = 67108864 ]
	else
		# cgroup v2 counts swap alone: 64M memory+swap less 32M memory.
		[ "$(cat "$dir/memory.swap.max")" = 33554432 ]
	fi
}

@test "a pids limit is written to the container's cgroup" {
	update_config '.linux.resources.pids = {"limit": 20}'
	run_detached "$CT"
	local dir
	dir=$(cgroup_dir "$(pid_of "$CT")" pids)
	[ "$(cat "$dir/pids.max")" = 20 ]
}

@test "a pids limit stops the container from forking past it" {
	update_config '.linux.resources.pids = {"limit": 10}'
	in_container sh -c 'for i in $(seq 30); do sleep 10 & done; echo all forked'
	[[ "$output" != *"all forked"* ]]
	[[ "$output" == *"can't fork"* ]]
}

@test "cpu shares, quota and period are written to the container's cgroup" {
	update_config '.linux.resources.cpu = {"shares": 512, "quota": 50000, "period": 100000}'
	run_detached "$CT"
	local dir
	dir=$(cgroup_dir "$(pid_of "$CT")" cpu)

	if [ -e "$dir/cpu.shares" ]; then
		[ "$(cat "$dir/cpu.shares")" = 512 ]
		[ "$(cat "$dir/cpu.cfs_quota_us")" = 50000 ]
		[ "$(cat "$dir/cpu.cfs_period_us")" = 100000 ]
	else
		[ "$(cat "$dir/cpu.max")" = "50000 100000" ]
	fi
}

@test "a relative cgroupsPath is placed under the runtime's own cgroup" {
	update_config '.linux.cgroupsPath = $p' --arg p "towel-parent-$$/$CT"
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	local own path
	own=$(awk -F: '$2 == "pids" { print $3 }' /proc/self/cgroup)
	path=$(awk -F: '$2 == "pids" { print $3 }' "/proc/$pid/cgroup")
	[ "$path" = "${own%/}/towel-parent-$$/$CT" ]
}

@test "delete removes the container's cgroup" {
	update_config '.linux.resources.pids = {"limit": 20}'
	run_detached "$CT"
	local pid dir
	pid=$(pid_of "$CT")
	dir=$(cgroup_dir "$pid" pids)
	[ -d "$dir" ]

	towel delete --force "$CT"
	[ ! -d "$dir" ]
	[ -z "$(cgroups_named "$CT")" ]
}

@test "a container that exits on its own leaves no cgroup after delete" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped
	towel delete "$CT"
	[ -z "$(cgroups_named "$CT")" ]
}

@test "run removes the container's cgroup when the process exits" {
	set_args true
	run towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -eq 0 ]
	[ -z "$(cgroups_named "$CT")" ]
}

@test "an invalid resource value fails create and leaves no cgroup" {
	update_config '.linux.resources.cpu = {"shares": 512, "cpus": "9999"}'
	local before
	before=$(snapshot)
	run --separate-stderr towel create --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	assert_nothing_left "$before" "$CT"
}

@test "on a cgroup v2 host the container gets a cgroup that delete removes" {
	# The host is hybrid; a private mount namespace with cgroup2 mounted
	# on /sys/fs/cgroup looks like a pure v2 host to the runtime.
	cgroup_v2 || [ -d /sys/fs/cgroup/unified ] || skip "no cgroup2 mount on this host"
	run unshare -m bash -c '
		set -e
		mount --make-rprivate /
		if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
			umount -l /sys/fs/cgroup
			mount -t cgroup2 none /sys/fs/cgroup
		fi
		"$TOWEL_BINARY" --root "$ROOT" run --detach --bundle "$BUNDLE" "$CT" \
			</dev/null >/dev/null 2>&1
		pid=$("$TOWEL_BINARY" --root "$ROOT" state "$CT" | jq -r .pid)
		path=$(awk -F: "\$1 == \"0\" { print \$3 }" /proc/$pid/cgroup)
		echo "cgroup $path"
		grep -qx "$pid" "/sys/fs/cgroup$path/cgroup.procs"
		"$TOWEL_BINARY" --root "$ROOT" delete --force "$CT"
		[ ! -d "/sys/fs/cgroup$path" ]
		echo removed'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "cgroup /"*"$CT"* ]]
	[ "${lines[1]}" = removed ]
}
