#!/usr/bin/env bats
# The container process: hostname, environment, cwd, user, umask,
# capabilities, rlimits and no_new_privs as config.json sets them.

load helpers

setup() {
	setup_busybox
}

teardown() {
	teardown_common
}

@test "the container has the config's hostname" {
	update_config '.hostname = "towel-host"'
	in_container hostname
	[ "$status" -eq 0 ]
	[ "$output" = towel-host ]
	[ "$(hostname)" != towel-host ]
}

@test "the container has the config's domainname" {
	update_config '.domainname = "example.org"'
	in_container cat /proc/sys/kernel/domainname
	[ "$status" -eq 0 ]
	[ "$output" = example.org ]
}

@test "the process gets exactly the config's environment" {
	update_config '.process.env = ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY="]'
	in_container env
	[ "$status" -eq 0 ]
	[[ "$output" == *"FOO=bar baz"* ]]
	[[ "$output" == *"PATH=/bin:/usr/bin"* ]]
	[[ "$output" == *"EMPTY="* ]]
	# Nothing of the host's environment leaks in.
	[[ "$output" != *"BATS_"* ]]
}

@test "HOME is set from /etc/passwd when the config has none" {
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	in_container sh -c 'echo $HOME'
	[ "$status" -eq 0 ]
	[ "$output" = /home/user ]
}

@test "the process starts in the config's cwd" {
	mkdir -p "$BUNDLE/rootfs/srv/data"
	update_config '.process.cwd = "/srv/data"'
	in_container pwd
	[ "$status" -eq 0 ]
	[ "$output" = /srv/data ]
}

@test "a cwd that does not exist in the rootfs is created" {
	update_config '.process.cwd = "/new/dir"'
	in_container pwd
	[ "$status" -eq 0 ]
	[ "$output" = /new/dir ]
}

@test "the process runs as the config's uid and gid" {
	update_config '.process.user = {"uid": 1000, "gid": 100}'
	in_container sh -c 'id -u; id -g'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 100 ]
}

@test "the process gets the config's additional gids and no others" {
	update_config '.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [5, 100]}'
	in_container cat /proc/self/status
	[ "$status" -eq 0 ]
	local groups
	groups=$(grep '^Groups:' <<<"$output" | cut -f2 | xargs -n1 | sort -n | xargs)
	[ "$groups" = "5 100" ]
}

@test "a root process without additionalGids has no supplementary groups" {
	in_container cat /proc/self/status
	[ "$status" -eq 0 ]
	[ -z "$(grep '^Groups:' <<<"$output" | cut -f2 | xargs)" ]
}

@test "a numeric user that /etc/passwd does not know works" {
	update_config '.process.user = {"uid": 4242, "gid": 4343}'
	in_container sh -c 'id -u; id -g'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 4242 ]
	[ "${lines[1]}" = 4343 ]
}

@test "the process gets the config's umask" {
	update_config '.process.user.umask = 63'
	in_container sh -c umask
	[ "$status" -eq 0 ]
	[ "$output" = 0077 ]
}

@test "the default umask is 0022" {
	in_container sh -c umask
	[ "$status" -eq 0 ]
	[ "$output" = 0022 ]
}

# cap_value NAME... prints the hex capability mask of the named capabilities.
cap_value() {
	local n v=0
	for n in "$@"; do
		v=$((v | (1 << n)))
	done
	printf '%016x\n' "$v"
}

@test "the default capabilities are AUDIT_WRITE, KILL and NET_BIND_SERVICE" {
	in_container cat /proc/self/status
	[ "$status" -eq 0 ]
	# CAP_KILL 5, CAP_NET_BIND_SERVICE 10, CAP_AUDIT_WRITE 29.
	local want
	want=$(cap_value 5 10 29)
	grep -q "^CapEff:.$want$" <<<"$output"
	grep -q "^CapPrm:.$want$" <<<"$output"
	grep -q "^CapBnd:.$want$" <<<"$output"
	grep -q "^CapInh:.0000000000000000$" <<<"$output"
	grep -q "^CapAmb:.0000000000000000$" <<<"$output"
}

@test "the process gets each capability set as configured" {
	update_config '.process.capabilities = {
		"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_KILL"],
		"permitted": ["CAP_CHOWN", "CAP_SYS_ADMIN"],
		"effective": ["CAP_CHOWN"],
		"inheritable": ["CAP_CHOWN"],
		"ambient": ["CAP_CHOWN"]
	}'
	in_container cat /proc/self/status
	[ "$status" -eq 0 ]
	# CAP_CHOWN 0, CAP_KILL 5, CAP_SYS_ADMIN 21. A root process's execve
	# makes its effective set its permitted one (capabilities(7)).
	grep -q "^CapBnd:.$(cap_value 0 5 21)$" <<<"$output"
	grep -q "^CapPrm:.$(cap_value 0 21)$" <<<"$output"
	grep -q "^CapEff:.$(cap_value 0 21)$" <<<"$output"
	grep -q "^CapInh:.$(cap_value 0)$" <<<"$output"
	grep -q "^CapAmb:.$(cap_value 0)$" <<<"$output"
}

@test "a process with no capabilities has none" {
	update_config 'del(.process.capabilities)'
	in_container cat /proc/self/status
	[ "$status" -eq 0 ]
	grep -q "^CapEff:.0000000000000000$" <<<"$output"
	grep -q "^CapBnd:.0000000000000000$" <<<"$output"
}

@test "a non-root process keeps only its ambient capabilities" {
	# execve as a non-root user clears the permitted and effective sets
	# but for the ambient one (capabilities(7)).
	update_config '.process.user = {"uid": 1000, "gid": 1000}
		| .process.capabilities = {
			"bounding": ["CAP_CHOWN", "CAP_KILL"],
			"permitted": ["CAP_CHOWN", "CAP_KILL"],
			"effective": ["CAP_CHOWN", "CAP_KILL"],
			"inheritable": ["CAP_CHOWN"],
			"ambient": ["CAP_CHOWN"]
		}'
	in_container cat /proc/self/status
	[ "$status" -eq 0 ]
	grep -q "^CapEff:.$(cap_value 0)$" <<<"$output"
	grep -q "^CapPrm:.$(cap_value 0)$" <<<"$output"
	grep -q "^CapAmb:.$(cap_value 0)$" <<<"$output"
}

@test "an unknown capability is ignored with a warning" {
	# runc lets a config name capabilities that only newer kernels know.
	update_config '.process.capabilities.bounding += ["CAP_NO_SUCH_THING"]'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *CAP_NO_SUCH_THING* ]]
}

@test "the process gets the config's rlimits" {
	update_config '.process.rlimits = [
		{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
		{"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
		{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
	]'
	in_container sh -c 'ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu; ulimit -Hc'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 512 ]
	[ "${lines[1]}" = 1024 ]
	[ "${lines[2]}" = 300 ]
	[ "${lines[3]}" = 400 ]
	[ "${lines[4]}" = 0 ]
}

@test "the default rlimit of open files is 1024" {
	in_container sh -c 'ulimit -n'
	[ "$status" -eq 0 ]
	[ "$output" = 1024 ]
}

@test "an unknown rlimit type is an error" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
}

@test "noNewPrivileges sets no_new_privs" {
	update_config '.process.noNewPrivileges = true'
	in_container grep NoNewPrivs /proc/self/status
	[ "$status" -eq 0 ]
	[[ "$output" =~ NoNewPrivs:.1 ]]
}

@test "without noNewPrivileges no_new_privs is off" {
	update_config '.process.noNewPrivileges = false'
	in_container grep NoNewPrivs /proc/self/status
	[ "$status" -eq 0 ]
	[[ "$output" =~ NoNewPrivs:.0 ]]
}

@test "oomScoreAdj is applied to the process" {
	update_config '.process.oomScoreAdj = 123'
	in_container cat /proc/self/oom_score_adj
	[ "$status" -eq 0 ]
	[ "$output" = 123 ]
}

@test "the container process is PID 1 of its pid namespace" {
	in_container sh -c 'echo $$'
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
}

@test "no file descriptor of the runtime leaks into the container" {
	in_container ls /proc/self/fd
	[ "$status" -eq 0 ]
	# stdin, stdout, stderr and the fd ls opened on the directory.
	[ "$(echo "$output" | xargs)" = "0 1 2 3" ]
}
