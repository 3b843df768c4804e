#!/usr/bin/env bats
# towel spec: the starter config.json.

load helpers

setup() {
	setup_common
	cd "$BATS_TEST_TMPDIR"
}

@test "spec writes a runtime-spec 1.2.0 config.json in the current directory" {
	run towel spec
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -f config.json ]

	run jq -r .ociVersion config.json
	[ "$output" = 1.2.0 ]
}

@test "spec config.json has runc's defaults" {
	towel spec

	jq -e '.process.terminal == true' config.json
	jq -e '.process.user == {"uid": 0, "gid": 0}' config.json
	jq -e '.process.args == ["sh"]' config.json
	jq -e '.process.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]' config.json
	jq -e '.process.cwd == "/"' config.json
	jq -e '.process.noNewPrivileges == true' config.json
	jq -e '.process.rlimits == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]' config.json
	jq -e '.root == {"path": "rootfs", "readonly": true}' config.json
	jq -e '.hostname == "runc"' config.json
	jq -e '.linux.resources.devices == [{"allow": false, "access": "rwm"}]' config.json
}

@test "spec capabilities are bounding, effective and permitted only" {
	towel spec

	local caps='["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]'
	jq -e ".process.capabilities.bounding == $caps" config.json
	jq -e ".process.capabilities.effective == $caps" config.json
	jq -e ".process.capabilities.permitted == $caps" config.json
	jq -e '.process.capabilities | has("inheritable") | not' config.json
	jq -e '.process.capabilities | has("ambient") | not' config.json
}

@test "spec mounts /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and the cgroup fs" {
	towel spec

	run jq -r '.mounts[] | "\(.destination) \(.type) \(.source)"' config.json
	[ "${lines[0]}" = "/proc proc proc" ]
	[ "${lines[1]}" = "/dev tmpfs tmpfs" ]
	[ "${lines[2]}" = "/dev/pts devpts devpts" ]
	[ "${lines[3]}" = "/dev/shm tmpfs shm" ]
	[ "${lines[4]}" = "/dev/mqueue mqueue mqueue" ]
	[ "${lines[5]}" = "/sys sysfs sysfs" ]
	[ "${lines[6]}" = "/sys/fs/cgroup cgroup cgroup" ]
	[ "${#lines[@]}" -eq 7 ]

	jq -e '.mounts[2].options == ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]' config.json
	jq -e '.mounts[5].options | index("ro")' config.json
}

@test "spec namespaces are pid, network, ipc, uts, mount (and cgroup on cgroup v2)" {
	towel spec

	local want='["pid","network","ipc","uts","mount"]'
	if cgroup_v2; then
		want='["pid","network","ipc","uts","mount","cgroup"]'
	fi
	run jq -c '[.linux.namespaces[].type]' config.json
	[ "$output" = "$want" ]
}

@test "spec masks and write-protects runc's /proc and /sys paths" {
	towel spec

	jq -e '.linux.maskedPaths == ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]' config.json
	jq -e '.linux.readonlyPaths == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]' config.json
}

@test "spec is indented with tabs as runc writes it" {
	towel spec

	run sed -n 2p config.json
	[ "$output" = $'\t"ociVersion": "1.2.0",' ]
}

@test "spec refuses to overwrite an existing config.json" {
	echo '{"keep": "me"}' >config.json

	run --separate-stderr towel spec
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"File config.json exists. Remove it first"* ]]
	one_line_error
	[ "$(cat config.json)" = '{"keep": "me"}' ]
}

@test "spec --bundle writes into the bundle directory" {
	mkdir other
	run towel spec --bundle other
	[ "$status" -eq 0 ]
	[ -f other/config.json ]
	[ ! -e config.json ]

	run towel spec -b other
	[ "$status" -ne 0 ]
}

@test "spec --bundle into a missing directory fails and creates nothing" {
	run --separate-stderr towel spec --bundle missing
	[ "$status" -ne 0 ]
	one_line_error
	[ ! -e missing ]
}

@test "spec --rootless maps the caller to root in a user namespace" {
	towel spec --rootless

	jq -e '[.linux.namespaces[].type] | index("user")' config.json
	jq -e '[.linux.namespaces[].type] | index("network") | not' config.json
	jq -e ".linux.uidMappings == [{\"containerID\": 0, \"hostID\": $(id -u), \"size\": 1}]" config.json
	jq -e ".linux.gidMappings == [{\"containerID\": 0, \"hostID\": $(id -g), \"size\": 1}]" config.json
	jq -e '.linux | has("resources") | not' config.json
	jq -e '.mounts[] | select(.destination == "/sys") | .type == "none" and .source == "/sys" and (.options | index("rbind"))' config.json
	jq -e '[.mounts[].options // [] | .[] | select(startswith("gid=") or startswith("uid="))] == []' config.json
}

@test "spec takes no arguments" {
	run --separate-stderr towel spec extra
	[ "$status" -ne 0 ]
	[ ! -e config.json ]
}
