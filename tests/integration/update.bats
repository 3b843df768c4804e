#!/usr/bin/env bats
# update: change a running container's cgroup limits, with runc 1.2's
# flags or a LinuxResources JSON.

load helpers

setup() {
	setup_busybox
	set_args sleep 1000
	cgroup_v2 && skip "these tests read cgroup v1 files"
	true
}

teardown() {
	teardown_common
}

# cg CONTROLLER FILE prints FILE of the container's cgroup of CONTROLLER.
cg() {
	cat "$(cgroup_dir "$(pid_of "$CT")" "$1")/$2"
}

# saved JQ-FILTER applies a filter to the resources in the saved state.
saved() {
	jq -e "$1" <<<"$(jq .config.cgroup.resources "$ROOT/$CT/state.json")"
}

@test "update --memory, --memory-swap and --memory-reservation write the memory cgroup" {
	run_detached "$CT"
	run towel update --memory 64M --memory-swap 128m --memory-reservation 32MiB "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(cg memory memory.limit_in_bytes)" = 67108864 ]
	[ "$(cg memory memory.memsw.limit_in_bytes)" = 134217728 ]
	[ "$(cg memory memory.soft_limit_in_bytes)" = 33554432 ]
	saved '.memory == {"limit": 67108864, "reservation": 33554432, "swap": 134217728}'
}

@test "update --memory -1 lifts the memory and swap limits" {
	update_config '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}'
	run_detached "$CT"
	towel update --memory -1 "$CT"
	[ "$(cg memory memory.limit_in_bytes)" -gt 1000000000000 ]
	[ "$(cg memory memory.memsw.limit_in_bytes)" -gt 1000000000000 ]
}

@test "update --cpu-share, --cpu-quota, --cpu-period and --cpu-burst write the cpu cgroup" {
	run_detached "$CT"
	towel update --cpu-share 512 --cpu-period 100000 --cpu-quota 50000 --cpu-burst 10000 "$CT"
	[ "$(cg cpu cpu.shares)" = 512 ]
	[ "$(cg cpu cpu.cfs_period_us)" = 100000 ]
	[ "$(cg cpu cpu.cfs_quota_us)" = 50000 ]
	if [ -e "$(cgroup_dir "$(pid_of "$CT")" cpu)/cpu.cfs_burst_us" ]; then
		[ "$(cg cpu cpu.cfs_burst_us)" = 10000 ]
	fi
	# runc 1.2 spells it --cpu-share; --cpu-shares is accepted too.
	towel update --cpu-shares 256 "$CT"
	[ "$(cg cpu cpu.shares)" = 256 ]
	saved '.cpu.shares == 256 and .cpu.quota == 50000 and .cpu.period == 100000'
}

@test "update --cpu-rt-period and --cpu-rt-runtime write the realtime budget" {
	[ -e /sys/fs/cgroup/cpu/cpu.rt_runtime_us ] || skip "kernel without CONFIG_RT_GROUP_SCHED"
	run_detached "$CT"
	towel update --cpu-rt-period 1000000 --cpu-rt-runtime 1000 "$CT"
	[ "$(cg cpu cpu.rt_period_us)" = 1000000 ]
	[ "$(cg cpu cpu.rt_runtime_us)" = 1000 ]
}

@test "update --cpu-idle writes cpu.idle" {
	run_detached "$CT"
	[ -e "$(cgroup_dir "$(pid_of "$CT")" cpu)/cpu.idle" ] || skip "kernel without cpu.idle"
	towel update --cpu-idle 1 "$CT"
	[ "$(cg cpu cpu.idle)" = 1 ]
	towel update --cpu-idle 0 "$CT"
	[ "$(cg cpu cpu.idle)" = 0 ]
}

@test "update --cpuset-cpus and --cpuset-mems write the cpuset cgroup" {
	run_detached "$CT"
	local last
	last=$(($(nproc) - 1))
	towel update --cpuset-cpus "$last" --cpuset-mems 0 "$CT"
	[ "$(cg cpuset cpuset.cpus)" = "$last" ]
	[ "$(cg cpuset cpuset.mems)" = 0 ]
	saved ".cpu.cpus == \"$last\" and .cpu.mems == \"0\""
}

@test "update --pids-limit writes pids.max" {
	run_detached "$CT"
	towel update --pids-limit 77 "$CT"
	[ "$(cg pids pids.max)" = 77 ]
	towel update --pids-limit -1 "$CT"
	[ "$(cg pids pids.max)" = max ]
}

@test "update --blkio-weight writes the blkio weight" {
	run_detached "$CT"
	local dir
	dir=$(cgroup_dir "$(pid_of "$CT")" blkio)
	[ -e "$dir/blkio.weight" ] || [ -e "$dir/blkio.bfq.weight" ] ||
		skip "no blkio weight file (no CFQ or BFQ scheduler)"
	towel update --blkio-weight 300 "$CT"
	[ "$(cat "$dir/blkio.weight" 2>/dev/null || cat "$dir/blkio.bfq.weight")" = 300 ]
}

@test "update --resources takes a LinuxResources JSON from a file or stdin" {
	run_detached "$CT"
	cat >"$BATS_TEST_TMPDIR/r.json" <<-'EOF'
		{"memory": {"limit": 50331648}, "cpu": {"shares": 300}, "pids": {"limit": 55}}
	EOF
	towel update --resources "$BATS_TEST_TMPDIR/r.json" "$CT"
	[ "$(cg memory memory.limit_in_bytes)" = 50331648 ]
	[ "$(cg cpu cpu.shares)" = 300 ]
	[ "$(cg pids pids.max)" = 55 ]

	echo '{"pids": {"limit": 66}}' | towel update -r - "$CT"
	[ "$(cg pids pids.max)" = 66 ]
	# Unchanged values stay.
	[ "$(cg memory memory.limit_in_bytes)" = 50331648 ]
	saved '.memory.limit == 50331648 and .cpu.shares == 300 and .pids.limit == 66'
}

@test "a second update keeps what the first one set" {
	run_detached "$CT"
	towel update --memory 64M "$CT"
	towel update --pids-limit 10 "$CT"
	saved '.memory.limit == 67108864 and .pids.limit == 10'
	[ "$(cg memory memory.limit_in_bytes)" = 67108864 ]
}

@test "a bad update value is one clear error and changes nothing" {
	update_config '.linux.resources.memory = {"limit": 33554432}
		| .linux.resources.pids = {"limit": 20}'
	run_detached "$CT"
	local before
	before=$(jq -c .config.cgroup.resources "$ROOT/$CT/state.json")

	local args
	for args in "--memory -5" "--memory lots" "--cpuset-cpus 9999" \
		"--cpuset-cpus 0-x" "--cpuset-mems 77" "--cpu-share -1" \
		"--pids-limit 30 --memory -2"; do
		# shellcheck disable=SC2086
		run --separate-stderr towel update $args "$CT"
		[ "$status" -ne 0 ]
		one_line_error
		[ "$(cg memory memory.limit_in_bytes)" = 33554432 ]
		[ "$(cg pids pids.max)" = 20 ]
	done

	echo '{"memory": {"limit": -7}}' >"$BATS_TEST_TMPDIR/r.json"
	run --separate-stderr towel update -r "$BATS_TEST_TMPDIR/r.json" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	echo 'not json' | { run --separate-stderr towel update -r - "$CT"; [ "$status" -ne 0 ]; }

	[ "$(jq -c .config.cgroup.resources "$ROOT/$CT/state.json")" = "$before" ]
	[ "$(cg memory memory.limit_in_bytes)" = 33554432 ]
	[ "$(status_of "$CT")" = running ]
}

@test "update of a stopped or unknown container is an error" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped
	run --separate-stderr towel update --memory 64M "$CT"
	[ "$status" -ne 0 ]
	one_line_error

	run --separate-stderr towel update --memory 64M nosuchct
	[ "$status" -ne 0 ]
	one_line_error
}

@test "update --l3-cache-schema and --mem-bw-schema need Intel RDT" {
	[ -d /sys/fs/resctrl/info ] && skip "this host has resctrl"
	run_detached "$CT"
	run --separate-stderr towel update --l3-cache-schema "L3:0=f" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"Intel RDT"* ]]
	run --separate-stderr towel update --mem-bw-schema "MB:0=50" "$CT"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"Intel RDT"* ]]
}
