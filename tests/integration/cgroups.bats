#!/usr/bin/env bats
# cgroups: limits from linux.resources land in the container's cgroup, and
# the cgroup goes with the container.

load helpers
load cgroup-helpers

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
	towel_captured create --bundle "$BUNDLE" "$CT"
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

# The tests below exercise cgroup v1 on the host: every resource field is
# set and read back from its file, update changes a running container,
# kill reaches every process, pre-existing cgroups are refused. Their v2
# counterparts are in cgroups_v2.bats.

requires_v1() {
	cgroup_v2 && skip "cgroup v1 test on a cgroup v2 host"
	return 0
}

# v1_dir CONTROLLER prints the container's directory in that hierarchy.
v1_dir() {
	cgroup_dir "$(pid_of "$CT")" "$1"
}

# whole_disk prints MAJOR:MINOR of a whole disk (blk-throttle takes no
# partitions).
whole_disk() {
	lsblk -dn -o MAJ:MIN,TYPE | awk '$2 == "disk" { print $1; exit }' |
		tr -d ' '
}

# create_quietly ARGS... is `towel create ARGS...` with stdout on
# /dev/null, so that a create that wrongly succeeds leaves no process
# holding bats' output pipe open.
create_quietly() {
	towel create "$@" </dev/null >/dev/null
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

@test "v1: memory reservation, swappiness and disableOOMKiller are written" {
	requires_v1
	update_config '.linux.resources.memory = {"limit": 67108864,
		"reservation": 33554432, "swappiness": 20,
		"disableOOMKiller": true}'
	run_detached "$CT"
	local dir
	dir=$(v1_dir memory)
	[ "$(cat "$dir/memory.limit_in_bytes")" = 67108864 ]
	[ "$(cat "$dir/memory.soft_limit_in_bytes")" = 33554432 ]
	[ "$(cat "$dir/memory.swappiness")" = 20 ]
	grep -qx 'oom_kill_disable 1' "$dir/memory.oom_control"
}

@test "v1: memory.useHierarchy true is written" {
	requires_v1
	update_config '.linux.resources.memory = {"useHierarchy": true}'
	run_detached "$CT"
	[ "$(cat "$(v1_dir memory)/memory.use_hierarchy")" = 1 ]
}

@test "v1: memory.kernelTCP is written, memory.kernel is ignored with a warning" {
	requires_v1
	[ -e "$(cgroup_dir $$ memory)/memory.kmem.tcp.limit_in_bytes" ] ||
		skip "kernel has no kmem.tcp accounting"
	local before
	before=$(cat "$(cgroup_dir $$ memory)/memory.kmem.limit_in_bytes")
	update_config '.linux.resources.memory = {"kernel": 33554432,
		"kernelTCP": 16777216}'
	run_detached "$CT"
	grep -q 'memory.kernel is ignored' "$BATS_TEST_TMPDIR/$CT.err"
	local dir
	dir=$(v1_dir memory)
	[ "$(cat "$dir/memory.kmem.tcp.limit_in_bytes")" = 16777216 ]
	[ "$(cat "$dir/memory.kmem.limit_in_bytes")" != 33554432 ]
}

@test "v1: cpu burst and realtime runtime and period are written" {
	requires_v1
	update_config '.linux.resources.cpu = {"quota": 20000, "period": 100000,
		"burst": 5000, "realtimeRuntime": 10000, "realtimePeriod": 500000}'
	run_detached "$CT"
	local dir
	dir=$(v1_dir cpu)
	[ "$(cat "$dir/cpu.cfs_burst_us")" = 5000 ]
	[ "$(cat "$dir/cpu.rt_runtime_us")" = 10000 ]
	[ "$(cat "$dir/cpu.rt_period_us")" = 500000 ]
}

@test "v1: cpu.idle is written, and the shares set with it are kept for when it is off" {
	requires_v1
	[ -e "$(cgroup_dir $$ cpu)/cpu.idle" ] || skip "kernel has no cpu.idle"
	update_config '.linux.resources.cpu = {"shares": 512, "idle": 1}'
	run_detached "$CT"
	local dir
	dir=$(v1_dir cpu)
	[ "$(cat "$dir/cpu.idle")" = 1 ]

	towel update --cpu-idle 0 "$CT"
	[ "$(cat "$dir/cpu.idle")" = 0 ]
	[ "$(cat "$dir/cpu.shares")" = 512 ]
}

@test "v1: cpuset cpus and mems are written" {
	requires_v1
	update_config '.linux.resources.cpu = {"cpus": "0", "mems": "0"}'
	run_detached "$CT"
	local dir
	dir=$(v1_dir cpuset)
	[ "$(cat "$dir/cpuset.cpus")" = 0 ]
	[ "$(cat "$dir/cpuset.mems")" = 0 ]
}

@test "v1: block I/O throttling of a device is written to the four throttle files" {
	requires_v1
	local disk
	disk=$(whole_disk)
	[ -n "$disk" ] || skip "no whole disk on this host"
	local major=${disk%:*} minor=${disk#*:}
	update_config '.linux.resources.blockIO = {
		"throttleReadBpsDevice": [{"major": $ma, "minor": $mi, "rate": 1048576}],
		"throttleWriteBpsDevice": [{"major": $ma, "minor": $mi, "rate": 2097152}],
		"throttleReadIOPSDevice": [{"major": $ma, "minor": $mi, "rate": 300}],
		"throttleWriteIOPSDevice": [{"major": $ma, "minor": $mi, "rate": 400}]}' \
		--argjson ma "$major" --argjson mi "$minor"
	run_detached "$CT"
	local dir
	dir=$(v1_dir blkio)
	[ "$(cat "$dir/blkio.throttle.read_bps_device")" = "$disk 1048576" ]
	[ "$(cat "$dir/blkio.throttle.write_bps_device")" = "$disk 2097152" ]
	[ "$(cat "$dir/blkio.throttle.read_iops_device")" = "$disk 300" ]
	[ "$(cat "$dir/blkio.throttle.write_iops_device")" = "$disk 400" ]
}

@test "v1: hugetlb limits go to the unified hierarchy of a hybrid host, reservations too" {
	requires_v1
	grep -q ' - cgroup .*hugetlb' /proc/self/mountinfo &&
		skip "hugetlb is a v1 hierarchy here"
	grep -qw hugetlb "$UNIFIED/cgroup.controllers" ||
		skip "no hugetlb controller in the unified hierarchy"
	update_config '.linux.resources.hugepageLimits = [
		{"pageSize": "2MB", "limit": 6291456}]'
	run_detached "$CT"
	local dir
	dir=$(cgroup_dir "$(pid_of "$CT")" hugetlb)
	[[ "$dir" == */unified/* ]]
	[ "$(cat "$dir/hugetlb.2MB.max")" = 6291456 ]
	if [ -e "$dir/hugetlb.2MB.rsvd.max" ]; then
		[ "$(cat "$dir/hugetlb.2MB.rsvd.max")" = 6291456 ]
	fi
}

@test "v1: net_cls classID and net_prio priorities are written" {
	requires_net_cls
	update_config '.linux.resources.network = {"classID": 1048577,
		"priorities": [{"name": "lo", "priority": 7}]}'
	set_args sleep 1000
	# shellcheck disable=SC2016 # expanded in the namespace
	run in_v1_net '
		trap "towel delete --force \"\$CT\" >/dev/null 2>&1" EXIT
		run_detached "$CT" || { cat "$BATS_TEST_TMPDIR/$CT.err"; exit 1; }
		pid=$(pid_of "$CT")
		path=$(awk -F: "\$2 == \"net_cls,net_prio\" { print \$3 }" \
			/proc/$pid/cgroup)
		dir=/sys/fs/cgroup/net_cls,net_prio$path
		echo "path $path"
		cat "$dir/net_cls.classid"
		grep "^lo " "$dir/net_prio.ifpriomap"'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "path /$CT" ]
	[ "${lines[1]}" = 1048577 ]
	[ "${lines[2]}" = "lo 7" ]
}

@test "v1: the block I/O weight is written to CFQ's or BFQ's weight file" {
	requires_v1
	update_config '.linux.resources.blockIO = {"weight": 321}'
	if ! run_detached "$CT"; then
		# Only a kernel without CFQ and BFQ may refuse it.
		grep 'no I/O scheduler with weights' "$BATS_TEST_TMPDIR/$CT.err"
		skip "$(cat "$BATS_TEST_TMPDIR/$CT.err")"
	fi
	local dir
	dir=$(v1_dir blkio)
	if [ -e "$dir/blkio.weight" ]; then
		[ "$(cat "$dir/blkio.weight")" = 321 ]
	else
		# BFQ prints "default WEIGHT" first.
		[ "$(head -n1 "$dir/blkio.bfq.weight")" = "default 321" ] ||
			[ "$(cat "$dir/blkio.bfq.weight")" = 321 ]
	fi
}

@test "v1: a limit this host cannot enforce fails create with a clear error and leaves nothing" {
	requires_v1
	local -a cases=()
	grep -qw rdma /proc/cgroups ||
		cases+=('.linux.resources.rdma = {"mlx5_0": {"hcaHandles": 3}}|rdma')
	cases+=('.linux.resources.unified = {"pids.max": "10"}|unified')

	local c filter want before
	for c in "${cases[@]}"; do
		filter=${c%|*} want=${c##*|}
		rm -rf "$BUNDLE"
		setup_busybox
		update_config "$filter"
		before=$(snapshot)
		run --separate-stderr create_quietly --bundle "$BUNDLE" "$CT"
		echo "$filter: $stderr"
		[ "$status" -ne 0 ]
		one_line_error
		[[ "$stderr" == *"$want"* ]]
		assert_nothing_left "$before" "$CT"
	done
}

@test "v1: update changes the limits of a running container without killing it" {
	requires_v1
	update_config '.linux.resources = {"memory": {"limit": 67108864},
		"cpu": {"shares": 256, "quota": 10000, "period": 100000},
		"pids": {"limit": 20}}'
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	towel update --memory 128M --memory-reservation 64M \
		--memory-swap 256M --cpu-share 300 --cpu-quota 30000 \
		--cpu-period 200000 --cpu-burst 1000 --cpu-rt-period 400000 \
		--cpu-rt-runtime 2000 --cpuset-cpus 0 --pids-limit 50 "$CT"

	local mem cpu
	mem=$(v1_dir memory) cpu=$(v1_dir cpu)
	[ "$(cat "$mem/memory.limit_in_bytes")" = 134217728 ]
	[ "$(cat "$mem/memory.soft_limit_in_bytes")" = 67108864 ]
	[ "$(cat "$mem/memory.memsw.limit_in_bytes")" = 268435456 ]
	[ "$(cat "$cpu/cpu.shares")" = 300 ]
	[ "$(cat "$cpu/cpu.cfs_quota_us")" = 30000 ]
	[ "$(cat "$cpu/cpu.cfs_period_us")" = 200000 ]
	[ "$(cat "$cpu/cpu.cfs_burst_us")" = 1000 ]
	[ "$(cat "$cpu/cpu.rt_period_us")" = 400000 ]
	[ "$(cat "$cpu/cpu.rt_runtime_us")" = 2000 ]
	[ "$(cat "$(v1_dir cpuset)/cpuset.cpus")" = 0 ]
	[ "$(cat "$(v1_dir pids)/pids.max")" = 50 ]

	[ "$(pid_of "$CT")" = "$pid" ]
	[ "$(status_of "$CT")" = running ]
	# The state keeps the new limits for the next update.
	towel state "$CT" >/dev/null
	towel update --pids-limit 60 "$CT"
	[ "$(cat "$(v1_dir pids)/pids.max")" = 60 ]
	[ "$(cat "$mem/memory.limit_in_bytes")" = 134217728 ]
}

@test "v1: update -r takes a resources file with block I/O and hugetlb limits" {
	requires_v1
	local disk
	disk=$(whole_disk)
	[ -n "$disk" ] || skip "no whole disk on this host"
	run_detached "$CT"
	jq -n --argjson ma "${disk%:*}" --argjson mi "${disk#*:}" '{
		"blockIO": {"throttleReadBpsDevice": [{"major": $ma,
			"minor": $mi, "rate": 4096000}]},
		"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}' \
		>"$BATS_TEST_TMPDIR/r.json"
	towel update -r "$BATS_TEST_TMPDIR/r.json" "$CT"
	[ "$(cat "$(v1_dir blkio)/blkio.throttle.read_bps_device")" = "$disk 4096000" ]
	[ "$(cat "$(cgroup_dir "$(pid_of "$CT")" hugetlb)/hugetlb.2MB.max")" = 2097152 ]
	[ "$(status_of "$CT")" = running ]
}

@test "v1: update with checkBeforeUpdate refuses a memory limit below the usage" {
	requires_v1
	update_config '.linux.resources.memory = {"limit": 67108864}'
	run_detached "$CT"
	echo '{"memory": {"limit": 4096, "checkBeforeUpdate": true}}' \
		>"$BATS_TEST_TMPDIR/r.json"
	run --separate-stderr towel update -r "$BATS_TEST_TMPDIR/r.json" "$CT"
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"usage"* ]]
	[ "$(cat "$(v1_dir memory)/memory.limit_in_bytes")" = 67108864 ]
	[ "$(status_of "$CT")" = running ]
}

@test "v1: kill KILL of a container without a PID namespace kills every process in its cgroup" {
	requires_v1
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'sleep 1000 & sleep 1000 & exec sleep 1000'
	run_detached "$CT"
	local dir
	dir=$(v1_dir pids)
	sleep 0.3
	[ "$(wc -l <"$dir/cgroup.procs")" -eq 3 ]

	towel kill "$CT" KILL
	wait_for_empty "$dir"
	wait_for_status "$CT" stopped
}

@test "v1: kill TERM of a container without a PID namespace reaches every process" {
	requires_v1
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'sleep 1000 & sleep 1000 & exec sleep 1000'
	run_detached "$CT"
	local dir
	dir=$(v1_dir pids)
	sleep 0.3
	[ "$(wc -l <"$dir/cgroup.procs")" -eq 3 ]

	local freezer
	freezer=$(v1_dir freezer)

	towel kill "$CT" TERM
	wait_for_empty "$dir"
	# Frozen to signal every process at once, then thawed again.
	[ "$(cat "$freezer/freezer.state")" = THAWED ]
}

@test "v1: a pre-existing cgroup with a process in it is refused and left alone" {
	requires_v1
	local path=/towel-test-$$-pre-$BATS_TEST_NUMBER dir
	dir=$(findmnt -n -o TARGET -t cgroup -O devices | head -n1)$path
	mkdir "$dir"
	sleep 1000 &
	local sleeper=$!
	echo "$sleeper" >"$dir/cgroup.procs"
	update_config '.linux.cgroupsPath = $p' --arg p "$path"

	run --separate-stderr create_quietly --bundle "$BUNDLE" "$CT"
	kill "$sleeper"
	wait "$sleeper" || true
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"cgroup is not empty: 1 process(es) found"* ]]
	[ -d "$dir" ]
	rmdir "$dir"
	[ ! -d "$ROOT/$CT" ]
}

@test "v1: a pre-existing frozen cgroup is refused and left alone" {
	requires_v1
	local path=/towel-test-$$-pre-$BATS_TEST_NUMBER dir
	dir=$(findmnt -n -o TARGET -t cgroup -O freezer | head -n1)$path
	mkdir "$dir"
	echo FROZEN >"$dir/freezer.state"
	update_config '.linux.cgroupsPath = $p' --arg p "$path"

	run --separate-stderr create_quietly --bundle "$BUNDLE" "$CT"
	local state
	state=$(cat "$dir/freezer.state")
	echo THAWED >"$dir/freezer.state"
	rmdir "$dir"
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"cgroup unexpectedly frozen"* ]]
	[ "$state" = FROZEN ]
	[ -z "$(cgroups_named "towel-test-$$-pre-$BATS_TEST_NUMBER")" ]
}

@test "v1: a nested cgroupsPath creates the parents, and delete removes only the container's" {
	requires_v1
	local parent=towel-test-$$-nest-$BATS_TEST_NUMBER
	update_config '.linux.cgroupsPath = $p | .linux.resources.pids = {"limit": 9}' \
		--arg p "/$parent/a/$CT"
	run_detached "$CT"
	local dir
	dir=$(v1_dir pids)
	[[ "$dir" == */pids/$parent/a/$CT ]]
	[ "$(cat "$dir/pids.max")" = 9 ]
	towel delete --force "$CT"
	[ ! -d "$dir" ]
	[ -d "${dir%/*}" ]
	find /sys/fs/cgroup -depth -type d -path "*/$parent*" -exec rmdir {} \;
}
