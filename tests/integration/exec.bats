#!/usr/bin/env bats
# exec: another process in a running (or created) container, with runc
# 1.2's flags.

load helpers

RECVFD=$INTEGRATION_ROOT/recvfd.py

setup() {
	setup_busybox
	set_args sleep 1000
}

teardown() {
	teardown_common
}

# start_ct [RUN-ARGS...] runs $CT detached with the bundle as it is.
start_ct() {
	run_detached "$CT" "$@"
	[ "$(status_of "$CT")" = running ]
}

# status_field PID FIELD prints a field of /proc/PID/status.
status_field() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

# exec_bg ARGS... runs `exec -d --pid-file` and prints the process's pid.
exec_bg() {
	local pidfile=$BATS_TEST_TMPDIR/exec.pid
	rm -f "$pidfile"
	towel exec -d --pid-file "$pidfile" "$@" </dev/null >/dev/null 2>&1 || return 1
	cat "$pidfile"
}

@test "exec runs a command in the container and exits with its status" {
	start_ct
	run towel exec "$CT" sh -c 'echo out; echo err >&2; exit 3'
	[ "$status" -eq 3 ]
	[[ "$output" == *out* ]]
	[[ "$output" == *err* ]]

	run towel exec "$CT" true
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "a signal to a foreground exec is forwarded to the process" {
	start_ct
	local out=$BATS_TEST_TMPDIR/out
	# Not through the towel function: $! must be the runtime's pid.
	"$TOWEL" --root "$ROOT" exec "$CT" sh -c 'trap "echo got-term; exit 9" TERM
		echo ready; while :; do sleep 0.1; done' >"$out" </dev/null &
	local exec_pid=$!
	local i
	for i in $(seq 100); do
		grep -q ready "$out" && break
		sleep 0.1
	done
	kill -TERM "$exec_pid"
	local rc=0
	wait "$exec_pid" || rc=$?
	[ "$rc" -eq 9 ]
	grep -q got-term "$out"
}

@test "exec passes flags after the command to the command" {
	start_ct
	run towel exec "$CT" echo -n --user 5
	[ "$status" -eq 0 ]
	[ "$output" = "--user 5" ]
}

@test "a process killed by a signal makes exec exit with 128 plus the signal" {
	start_ct
	run towel exec "$CT" sh -c 'kill -9 $$'
	[ "$status" -eq 137 ]
}

@test "the exec'd process joins every namespace of the container" {
	start_ct
	local init ns
	init=$(pid_of "$CT")
	for ns in mnt uts ipc pid net cgroup; do
		[ -e "/proc/$init/ns/$ns" ] || continue
		run towel exec "$CT" readlink "/proc/self/ns/$ns"
		[ "$status" -eq 0 ]
		[ "$output" = "$(readlink "/proc/$init/ns/$ns")" ]
	done
	# In the container's pid namespace, init is pid 1.
	run towel exec "$CT" sh -c 'tr "\0" " " </proc/1/cmdline'
	[ "$output" = "sleep 1000 " ]
}

@test "the exec'd process joins the container's cgroup" {
	start_ct
	local pid
	pid=$(exec_bg "$CT" sleep 100)
	[ "$(cat "/proc/$pid/cgroup")" = "$(cat "/proc/$(pid_of "$CT")/cgroup")" ]
}

@test "exec takes the container's env, user and cwd by default" {
	update_config '.process.env += ["FROM_CONFIG=yes"] |
		.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [100]} |
		.process.cwd = "/home/user"'
	start_ct
	run towel exec "$CT" sh -c 'echo $FROM_CONFIG; id -u; id -g; pwd; echo $HOME'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = yes ]
	[ "${lines[1]}" = 1000 ]
	[ "${lines[2]}" = 1000 ]
	[ "${lines[3]}" = /home/user ]
	[ "${lines[4]}" = /home/user ]
	run towel exec "$CT" grep Groups /proc/self/status
	[ "$(echo $output)" = "Groups: 100" ]
}

@test "exec --env, --cwd, --user and --additional-gids override the defaults" {
	update_config '.process.env += ["A=config"]'
	start_ct
	# urfave/cli refuses a short and a long form of one flag together.
	run towel exec --env A=flag --env B=2 --cwd /tmp --user 1000:100 \
		-g 5 -g 7 "$CT" \
		sh -c 'echo $A $B; pwd; id -u; id -g; grep Groups /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "flag 2" ]
	[ "${lines[1]}" = /tmp ]
	[ "${lines[2]}" = 1000 ]
	[ "${lines[3]}" = 100 ]
	[ "$(echo ${lines[4]})" = "Groups: 5 7" ]

	# A uid alone keeps the container's gid.
	run towel exec -u 1000 "$CT" id -g
	[ "$output" = 0 ]
}

@test "exec --user with a bad uid is an error" {
	start_ct
	run --separate-stderr towel exec --user nobody "$CT" true
	[ "$status" -eq 255 ]
	one_line_error
	[[ "$stderr" == *"invalid --user"* ]]
}

@test "exec gets the container's capabilities and --cap adds to them" {
	start_ct
	local init
	init=$(pid_of "$CT")
	run towel exec "$CT" grep CapEff /proc/self/status
	[ "$output" = "$(grep CapEff "/proc/$init/status")" ]

	# CAP_SYS_ADMIN is bit 21.
	run towel exec --cap CAP_SYS_ADMIN "$CT" grep -E 'CapEff|CapBnd' /proc/self/status
	[ "$status" -eq 0 ]
	local eff bnd
	eff=$(awk '$1 == "CapEff:" { print $2 }' <<<"$output")
	bnd=$(awk '$1 == "CapBnd:" { print $2 }' <<<"$output")
	(( (0x$eff >> 21) & 1 ))
	(( (0x$bnd >> 21) & 1 ))
}

@test "exec gets the container's rlimits" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]'
	start_ct
	run towel exec "$CT" sh -c 'ulimit -n; ulimit -Hn'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 256 ]
	[ "${lines[1]}" = 512 ]
}

@test "exec --no-new-privs sets no_new_privs, and the container's setting is the default" {
	update_config '.process.noNewPrivileges = false'
	start_ct
	run towel exec "$CT" grep NoNewPrivs /proc/self/status
	[ "$(echo $output)" = "NoNewPrivs: 0" ]
	run towel exec --no-new-privs "$CT" grep NoNewPrivs /proc/self/status
	[ "$(echo $output)" = "NoNewPrivs: 1" ]
}

@test "exec --umask sets the umask" {
	start_ct
	run towel exec --umask 0027 "$CT" sh -c umask
	[ "$status" -eq 0 ]
	[ "$output" = 0027 ]
	run --separate-stderr towel exec --umask 9 "$CT" true
	[ "$status" -eq 255 ]
	one_line_error
}

@test "the exec'd process gets the container's seccomp filter" {
	update_config '.linux.seccomp = {
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
	} | .root.readonly = false'
	start_ct
	run towel exec "$CT" grep Seccomp: /proc/self/status
	[ "$(echo $output)" = "Seccomp: 2" ]
	run towel exec "$CT" mkdir /tmp/blocked
	[ "$status" -ne 0 ]
	[ ! -e "$BUNDLE/rootfs/tmp/blocked" ]
}

@test "exec --process runs a process JSON as a shim sends it" {
	start_ct
	cat >"$BATS_TEST_TMPDIR/process.json" <<-'EOF'
		{
			"terminal": false,
			"user": {"uid": 1000, "gid": 100},
			"args": ["sh", "-c", "echo $GREETING; id -u; id -g; pwd; exit 4"],
			"env": ["PATH=/bin:/usr/bin", "GREETING=hello"],
			"cwd": "/tmp"
		}
	EOF
	run towel exec --process "$BATS_TEST_TMPDIR/process.json" "$CT"
	[ "$status" -eq 4 ]
	[ "${lines[0]}" = hello ]
	[ "${lines[1]}" = 1000 ]
	[ "${lines[2]}" = 100 ]
	[ "${lines[3]}" = /tmp ]
}

@test "a process JSON without capabilities gets the container's" {
	start_ct
	cat >"$BATS_TEST_TMPDIR/process.json" <<-'EOF'
		{"user": {"uid": 0, "gid": 0}, "args": ["grep", "CapEff", "/proc/self/status"],
		 "env": ["PATH=/bin"], "cwd": "/"}
	EOF
	run towel exec -p "$BATS_TEST_TMPDIR/process.json" "$CT"
	[ "$status" -eq 0 ]
	[ "$output" = "$(grep CapEff "/proc/$(pid_of "$CT")/status")" ]
}

@test "a process file that is not valid JSON is one clear error and changes nothing" {
	start_ct
	echo '{"args": ["true"' >"$BATS_TEST_TMPDIR/process.json"
	run --separate-stderr towel exec --process "$BATS_TEST_TMPDIR/process.json" "$CT"
	[ "$status" -eq 255 ]
	one_line_error
	[[ "$stderr" == *"process.json"* ]]
	[ "$(status_of "$CT")" = running ]
	run towel ps --format json "$CT"
	[ "$(jq length <<<"$output")" -eq 1 ]
}

@test "exec with no command is an error" {
	start_ct
	run --separate-stderr towel exec "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"args cannot be empty"* ]]
}

@test "exec into an unknown container is an error" {
	run --separate-stderr towel exec nosuchct true
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"does not exist"* ]]
}

@test "exec of a program the container does not have fails with the reason" {
	start_ct
	run --separate-stderr towel exec "$CT" /no/such/program
	[ "$status" -eq 255 ]
	one_line_error
	[[ "$stderr" == *"/no/such/program"*"no such file"* ]]

	run --separate-stderr towel exec "$CT" nosuchcommand
	[ "$status" -eq 255 ]
	[[ "$stderr" == *"executable file not found"* ]]
}

@test "exec into a created container works and leaves it created" {
	create_detached "$CT"
	run towel exec "$CT" sh -c 'cat /proc/1/cmdline | tr "\0" " "'
	[ "$status" -eq 0 ]
	[[ "$output" == "towel init"* || "$output" == *"init"* ]]
	[ "$(status_of "$CT")" = created ]
	towel start "$CT"
	[ "$(status_of "$CT")" = running ]
}

@test "exec into a paused container fails unless --ignore-paused" {
	update_config '.root.readonly = false'
	start_ct
	towel pause "$CT"
	run --separate-stderr timeout 10 "$TOWEL" --root "$ROOT" exec "$CT" true
	[ "$status" -eq 255 ]
	one_line_error
	[[ "$stderr" == *paused* ]]

	# Allowed: the process is set up in the frozen cgroup, so exec (as
	# runc's) returns once the container is resumed.
	towel exec -d --ignore-paused "$CT" sh -c 'echo ran > /tmp/ran' \
		</dev/null >/dev/null 2>&1 &
	local exec_pid=$!
	sleep 1
	kill -0 "$exec_pid"
	towel resume "$CT"
	wait "$exec_pid"
	run towel exec "$CT" sh -c 'for i in $(seq 50); do [ -e /tmp/ran ] && break; sleep 0.1; done; cat /tmp/ran'
	[ "$output" = ran ]
}

@test "exec into a stopped container is an error" {
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped
	run --separate-stderr towel exec "$CT" true
	[ "$status" -eq 255 ]
	one_line_error
	[[ "$stderr" == *stopped* ]]
}

@test "exec -d returns at once and writes --pid-file" {
	start_ct
	local pid
	pid=$(exec_bg "$CT" sleep 100)
	[ -n "$pid" ]
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "sleep 100 " ]
	run towel ps --format json "$CT"
	jq -e --argjson p "$pid" 'index($p) != null' <<<"$output"
}

@test "exec -t gives the process a terminal and keeps its status" {
	start_ct
	run towel exec -t "$CT" sh -c 'tty; exit 5' </dev/null
	[ "$status" -eq 5 ]
	[[ "$output" == /dev/pts/* ]]
	run towel exec "$CT" tty
	[ "$output" = "not a tty" ]
}

@test "exec -t -d sends the terminal to --console-socket" {
	start_ct
	local sock=$BATS_TEST_TMPDIR/tty.sock
	"$RECVFD" tty "$sock" >"$BATS_TEST_TMPDIR/tty.out" &
	local recv_pid=$!
	wait_for_file "$sock"
	towel exec -t -d --console-socket "$sock" "$CT" sh -c 'tty; echo over-the-pty'
	# Only the receiver: bats may run a watchdog of its own.
	wait "$recv_pid"
	grep -q '^/dev/pts/' "$BATS_TEST_TMPDIR/tty.out"
	grep -q 'over-the-pty' "$BATS_TEST_TMPDIR/tty.out"
}

@test "exec -t -d without a console socket is refused" {
	start_ct
	run --separate-stderr towel exec -t -d "$CT" true
	[ "$status" -eq 255 ]
	one_line_error
	[[ "$stderr" == *"console socket"* ]]
}

@test "exec --pidfd-socket sends a pidfd of the new process" {
	start_ct
	local sock=$BATS_TEST_TMPDIR/pidfd.sock
	"$RECVFD" pidfd "$sock" >"$BATS_TEST_TMPDIR/pidfd.out" &
	local recv_pid=$!
	wait_for_file "$sock"
	local pid
	pid=$(exec_bg --pidfd-socket "$sock" "$CT" sleep 100)
	# Only the receiver: bats may run a watchdog of its own.
	wait "$recv_pid"
	[ "$(cat "$BATS_TEST_TMPDIR/pidfd.out")" = "$pid" ]
}

@test "run and create --pidfd-socket send a pidfd of the container's init" {
	local sock=$BATS_TEST_TMPDIR/pidfd.sock
	"$RECVFD" pidfd "$sock" >"$BATS_TEST_TMPDIR/pidfd.out" &
	local recv_pid=$!
	wait_for_file "$sock"
	create_detached "$CT" --pidfd-socket "$sock"
	# Only the receiver: bats may run a watchdog of its own.
	wait "$recv_pid"
	[ "$(cat "$BATS_TEST_TMPDIR/pidfd.out")" = "$(pid_of "$CT")" ]

	rm -f "$sock"
	"$RECVFD" pidfd "$sock" >"$BATS_TEST_TMPDIR/pidfd.out" &
	recv_pid=$!
	wait_for_file "$sock"
	run_detached "$CT2" --pidfd-socket "$sock"
	wait "$recv_pid"
	[ "$(cat "$BATS_TEST_TMPDIR/pidfd.out")" = "$(pid_of "$CT2")" ]
}

@test "exec --preserve-fds passes extra fds to the process" {
	start_ct
	echo passed-through >"$BATS_TEST_TMPDIR/fd3"
	run towel exec --preserve-fds 1 "$CT" cat /proc/self/fd/3 3<"$BATS_TEST_TMPDIR/fd3"
	[ "$status" -eq 0 ]
	[ "$output" = passed-through ]
	# Without the flag, fd 3 is not passed.
	run towel exec "$CT" cat /proc/self/fd/3 3<"$BATS_TEST_TMPDIR/fd3"
	[ "$status" -ne 0 ]
}

@test "exec --cgroup puts the process in a sub-cgroup of the container" {
	cgroup_v2 && skip "this test uses the v1 memory hierarchy"
	start_ct
	local dir pid
	dir=$(cgroup_dir "$(pid_of "$CT")" memory)
	mkdir "$dir/sub"
	pid=$(exec_bg --cgroup memory:sub "$CT" sleep 100)
	[ "$(cgroup_dir "$pid" memory)" = "$dir/sub" ]
	# Other controllers stay in the container's cgroup.
	[ "$(cgroup_dir "$pid" pids)" = "$(cgroup_dir "$(pid_of "$CT")" pids)" ]
	kill -9 "$pid"

	run --separate-stderr towel exec --cgroup memory:nosuch "$CT" true
	[ "$status" -eq 255 ]
	one_line_error
	[[ "$stderr" == *nosuch*"does not exist"* ]]

	# ".." cannot climb out of the container's cgroup.
	pid=$(exec_bg --cgroup memory:../.. "$CT" sleep 100)
	[ "$(cgroup_dir "$pid" memory)" = "$dir" ]
}

@test "exec --apparmor and --process-label need the LSM on the host" {
	[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] &&
		skip "AppArmor is enabled on this host"
	start_ct
	run --separate-stderr towel exec --apparmor some-profile "$CT" true
	[ "$status" -eq 255 ]
	one_line_error
	[[ "$stderr" == *AppArmor* ]]
	if [ ! -e /sys/fs/selinux/enforce ]; then
		run --separate-stderr towel exec --process-label system_u:system_r:container_t:s0 "$CT" true
		[ "$status" -eq 255 ]
		[[ "$stderr" == *SELinux* ]]
	fi
}

@test "exec into a container with a user namespace runs as its root" {
	update_config '.linux.namespaces += [{"type": "user"}] |
		.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] |
		.linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	# bats makes its run directory 0700: let the container's root, an
	# unprivileged host user, walk through it to the rootfs.
	chmod o+x "$BATS_RUN_TMPDIR"
	start_ct
	local pid
	pid=$(exec_bg "$CT" sleep 100)
	[ "$(readlink "/proc/$pid/ns/user")" = "$(readlink "/proc/$(pid_of "$CT")/ns/user")" ]
	[ "$(status_field "$pid" Uid | awk '{ print $1 }')" = 100000 ]
}

@test "an exec error reaches --log as a JSON line with level, msg and time" {
	start_ct
	local log=$BATS_TEST_TMPDIR/log.json
	run "$TOWEL" --root "$ROOT" --log "$log" --log-format json exec "$CT" /no/such/program
	[ "$status" -eq 255 ]
	[ "$(wc -l <"$log")" -ge 1 ]
	jq -e -s 'all(has("level") and has("msg") and has("time"))' "$log"
	jq -e -s 'map(select(.level == "error")) | .[-1].msg | test("/no/such/program")' "$log"
}

@test "a thousand execs, half with a terminal, all finish" {
	start_ct
	# The whole loop has a time limit, so a single hang fails the test.
	run timeout 240 bash -c '
		for i in $(seq 500); do
			"$1" --root "$2" exec "$3" true </dev/null || exit 1
			"$1" --root "$2" exec -t "$3" true </dev/null >/dev/null || exit 2
		done' _ "$TOWEL" "$ROOT" "$CT"
	[ "$status" -eq 0 ]
	# Nothing is left running but init.
	run towel ps --format json "$CT"
	[ "$(jq length <<<"$output")" -eq 1 ]
}
