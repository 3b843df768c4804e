#!/usr/bin/env bats
# cgroup namespace: a container with one sees its own cgroup as the root,
# in /proc/self/cgroup and in the cgroup file system mounted for it.

load helpers
load cgroup-helpers

setup() {
	setup_busybox
	requires_kernel_ns cgroup
}

teardown() {
	teardown_cgroup_ns
	teardown_common
}

with_cgroupns() {
	update_config '.linux.namespaces |= (map(select(.type != "cgroup"))
		+ [{"type": "cgroup"}])'
}

without_cgroupns() {
	update_config '.linux.namespaces |= map(select(.type != "cgroup"))'
}

requires_v1() {
	cgroup_v2 && skip "cgroup v1 test on a cgroup v2 host"
	return 0
}

@test "v1: with a cgroup namespace every hierarchy shows the container's cgroup as /" {
	requires_v1
	with_cgroupns
	in_container cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	echo "$output"
	[ "${#lines[@]}" -eq "$(wc -l </proc/self/cgroup)" ]
	run grep -v ':/$' <<<"$output"
	[ -z "$output" ]
}

@test "v1: without a cgroup namespace the container sees its host cgroup paths" {
	requires_v1
	without_cgroupns
	in_container cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"pids:/$CT"* ]]
}

@test "v1: with a cgroup namespace the cgroup mount shows the container's own cgroup" {
	requires_v1
	with_cgroupns
	update_config '.linux.resources.pids = {"limit": 42}'
	in_container sh -c 'cat /sys/fs/cgroup/pids/pids.max
		cat /sys/fs/cgroup/pids/cgroup.procs'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 42 ]
	[ "${lines[1]}" = 1 ]
}

@test "v1: a process exec'd into a container with a cgroup namespace sees / too" {
	requires_v1
	with_cgroupns
	set_args sleep 1000
	run_detached "$CT"
	run towel exec "$CT" cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	run grep -v ':/$' <<<"$output"
	[ -z "$output" ]
}

@test "v2: with a cgroup namespace the container's cgroup is 0::/" {
	requires_v2_namespace
	with_cgroupns
	# The v1 hierarchies stay listed: they exist, only unmounted.
	set_args grep '^0::' /proc/self/cgroup
	run in_v2 'towel run --bundle "$BUNDLE" "$CT" </dev/null'
	[ "$status" -eq 0 ]
	[ "$output" = "0::/" ]
}

@test "v2: without a cgroup namespace the container sees its host cgroup path" {
	requires_v2_namespace
	without_cgroupns
	set_args grep '^0::' /proc/self/cgroup
	run in_v2 'towel run --bundle "$BUNDLE" "$CT" </dev/null'
	[ "$status" -eq 0 ]
	[ "$output" = "0::/$CT" ]
}

@test "v2: with a cgroup namespace the cgroup2 mount shows the container's own cgroup" {
	requires_v2_namespace
	with_cgroupns
	update_config '.linux.resources.hugepageLimits = [
		{"pageSize": "2MB", "limit": 4194304}]'
	set_args sh -c 'cat /sys/fs/cgroup/hugetlb.2MB.max
		cat /sys/fs/cgroup/cgroup.procs'
	run in_v2 'towel run --bundle "$BUNDLE" "$CT" </dev/null'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 4194304 ]
	[ "${lines[1]}" = 1 ]
}

@test "v2: a process exec'd into a container with a cgroup namespace sees 0::/" {
	requires_v2_namespace
	with_cgroupns
	set_args sleep 1000
	run in_v2 'run_detached "$CT" &&
		towel exec "$CT" grep "^0::" /proc/self/cgroup'
	[ "$status" -eq 0 ]
	[ "$output" = "0::/" ]
}
