#!/usr/bin/env bats
# containerd 1.6 drives towel through its runc shim (io.containerd.runc.v2
# with towel as the runc binary), on a private containerd whose root,
# state, socket and towel root live in one temporary directory. The image
# is a busybox OCI archive made locally: no registry is reached.

load helpers

# The containerd namespace, hence the cgroup parent /$NS/ID of each task.
NS=towel-test

setup_file() {
	command -v containerd >/dev/null && command -v ctr >/dev/null ||
		skip "containerd is not installed (make deps-test)"
	# A short path: unix socket addresses are limited to 108 bytes.
	CTD=$(mktemp -d /tmp/towel-ctd.XXXXXX)
	export CTD
	cat >"$CTD/config.toml" <<-EOF
		version = 2
		root = "$CTD/root"
		state = "$CTD/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$CTD/containerd.sock"
		[ttrpc]
		  address = "$CTD/containerd.sock.ttrpc"
		[debug]
		  address = "$CTD/debug.sock"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$CTD/opt"
	EOF
	containerd --config "$CTD/config.toml" >"$CTD/containerd.log" 2>&1 &
	echo $! >"$CTD/containerd.pid"
	local i
	for i in $(seq 100); do
		ctr --address "$CTD/containerd.sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	# A v1 hierarchy another test left in use but unmounted keeps
	# containerd from reading metrics: make it visible while we run.
	local ctrls
	while ctrls=$(unmounted_hierarchy); do
		mkdir -p "$CTD/cgroup/$ctrls"
		mount -t cgroup -o "$ctrls" cgroup "$CTD/cgroup/$ctrls" || break
	done
	"$INTEGRATION_ROOT/busybox-image.sh" "$CTD/busybox.tar" localhost/towel-busybox:latest
	ctr --address "$CTD/containerd.sock" -n "$NS" images import "$CTD/busybox.tar" >/dev/null
}

teardown_file() {
	[ -n "${CTD:-}" ] || return 0
	local id
	for id in $(ctr --address "$CTD/containerd.sock" -n "$NS" containers ls -q 2>/dev/null); do
		ctr --address "$CTD/containerd.sock" -n "$NS" task rm -f "$id" >/dev/null 2>&1 || true
		ctr --address "$CTD/containerd.sock" -n "$NS" containers rm "$id" >/dev/null 2>&1 || true
	done
	if [ -e "$CTD/containerd.pid" ]; then
		local pid
		pid=$(cat "$CTD/containerd.pid")
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	# The parent cgroup of the tasks in hierarchies mounted by setup_file.
	find "$CTD/cgroup" -mindepth 2 -depth -type d -exec rmdir {} \; 2>/dev/null || true
	# containerd leaves its snapshot mounts if it was killed in a test.
	awk -v d="$CTD" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$CTD"
	find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "$NS" \
		-exec rmdir {} \; 2>/dev/null || true
}

setup() {
	setup_common
	ID=$CT
}

teardown() {
	local id
	for id in $(c containers ls -q 2>/dev/null); do
		c task rm -f "$id" >/dev/null 2>&1 || true
		c containers rm "$id" >/dev/null 2>&1 || true
	done
}

# c runs ctr on the private containerd in the test namespace.
c() {
	ctr --address "$CTD/containerd.sock" -n "$NS" "$@"
}

IMAGE=localhost/towel-busybox:latest

# c_run ARGS... is `ctr run` with towel as the shim's runc binary.
c_run() {
	c run --runc-binary "$TOWEL" --runc-root "$CTD/runc" "$@"
}

# task_pid ID prints the host pid of the task's init.
task_pid() {
	c task ls | awk -v id="$1" '$1 == id { print $2 }'
}

# task_status ID prints RUNNING, PAUSED, STOPPED...
task_status() {
	c task ls | awk -v id="$1" '$1 == id { print $3 }'
}

# wait_task ID STATUS waits up to 10 s for the task to reach STATUS.
wait_task() {
	local i
	for i in $(seq 100); do
		[ "$(task_status "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "task $1 is $(task_status "$1"), not $2" >&2
	return 1
}

# on_tty CMD runs the shell command CMD with a terminal on its stdio and
# prints what it wrote, without carriage returns. A session that does not
# end fails after 60 s.
on_tty() {
	timeout 60 script -qec "$1" /dev/null < <(sleep 2) | tr -d '\r'
}

# unmounted_hierarchy prints a cgroup v1 hierarchy that is in use but
# mounted nowhere here (a test that mounted one in a namespace of its own
# can leave it so) and fails if there is none: containerd's cgroup library
# then cannot load any task's cgroups, so it reads no metrics.
unmounted_hierarchy() {
	local ctrls opt
	while IFS=: read -r _ ctrls _; do
		[ -n "$ctrls" ] || continue
		opt=${ctrls%%,*}
		# The super options of a v1 mount list its controllers.
		if ! grep -qE " - cgroup [^ ]+ ([^ ]*,)?$opt(,| |$)" /proc/self/mountinfo; then
			echo "$ctrls"
			return 0
		fi
	done </proc/self/cgroup
	return 1
}

@test "containerd runs a one-shot command with towel and gets its output and status" {
	run c_run --rm "$IMAGE" "$ID" sh -c 'echo hello from towel; exit 7'
	[ "$status" -eq 7 ]
	[ "$output" = "hello from towel" ]
	# The task really ran under towel: its state root was used.
	[ -d "$CTD/runc/$NS" ]
}

@test "containerd reports why a task whose program does not exist failed" {
	run c_run --rm "$IMAGE" "$ID" /no/such/program
	[ "$status" -ne 0 ]
	[[ "$output" == *"/no/such/program"* ]]
	[[ "$output" == *"no such file or directory"* ]]
}

@test "containerd execs into a detached task, with and without a terminal" {
	c_run -d "$IMAGE" "$ID" sleep 1000
	wait_task "$ID" RUNNING

	run c task exec --exec-id e1 "$ID" sh -c 'echo exec says hi; exit 3'
	[ "$status" -eq 3 ]
	[ "$output" = "exec says hi" ]

	run on_tty "ctr --address $CTD/containerd.sock -n $NS task exec -t --exec-id e2 $ID sh -c 'tty; exit 5'; echo code=\$?"
	[[ "$output" == *"/dev/pts/"* ]]
	[[ "$output" == *"code=5"* ]]

	# The exec'd process is in the task's namespaces.
	run c task exec --exec-id e3 "$ID" readlink /proc/self/ns/pid
	[ "$output" = "$(readlink "/proc/$(task_pid "$ID")/ns/pid")" ]
}

@test "ctr task ps and metrics see the task's processes and cgroup" {
	c_run -d "$IMAGE" "$ID" sleep 1000
	wait_task "$ID" RUNNING
	c task exec -d --exec-id bg "$ID" sleep 999

	run c task ps "$ID"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "$output" == *"$(task_pid "$ID")"* ]]

	local unmounted
	if unmounted=$(unmounted_hierarchy); then
		skip "cgroup hierarchy $unmounted is not mounted: containerd reads no metrics"
	fi
	run c task metrics "$ID"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pids.current"*2* ]]
	[[ "$output" == *memory.usage_in_bytes* || "$output" == *memory.usage* ]]
}

@test "containerd pauses and resumes a task through towel" {
	c_run -d "$IMAGE" "$ID" sleep 1000
	wait_task "$ID" RUNNING

	c task pause "$ID"
	[ "$(task_status "$ID")" = PAUSED ]
	[ "$("$TOWEL" --root "$CTD/runc/$NS" state "$ID" | jq -r .status)" = paused ]

	c task resume "$ID"
	[ "$(task_status "$ID")" = RUNNING ]
	[ "$("$TOWEL" --root "$CTD/runc/$NS" state "$ID" | jq -r .status)" = running ]
}

@test "containerd kills and deletes a task and nothing of it is left" {
	c_run -d "$IMAGE" "$ID" sleep 1000
	wait_task "$ID" RUNNING
	local pid
	pid=$(task_pid "$ID")

	c task kill -s SIGKILL "$ID"
	wait_task "$ID" STOPPED
	c task rm "$ID"
	c containers rm "$ID"

	[ ! -e "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status"
	[ ! -e "$CTD/runc/$NS/$ID" ]
	[ -z "$(find /sys/fs/cgroup -path "*/$NS/$ID" 2>/dev/null)" ]
}

@test "a memory limit set through containerd is in the task's cgroup" {
	c_run -d --memory-limit 67108864 "$IMAGE" "$ID" sleep 1000
	wait_task "$ID" RUNNING
	local dir
	dir=$(cgroup_dir "$(task_pid "$ID")" memory)
	[[ "$dir" == */$NS/$ID ]]
	if [ -e "$dir/memory.limit_in_bytes" ]; then
		[ "$(cat "$dir/memory.limit_in_bytes")" = 67108864 ]
	else
		[ "$(cat "$dir/memory.max")" = 67108864 ]
	fi
	if ! unmounted_hierarchy >/dev/null; then
		run c task metrics "$ID"
		[[ "$output" == *67108864* ]]
	fi
}

# leftovers prints what tasks of this namespace could leave behind:
# mounts, processes in its cgroups, cgroups, towel and shim state, shim
# processes.
leftovers() {
	local procs=0 p
	for p in /proc/[0-9]*; do
		grep -q ":/$NS/" "$p/cgroup" 2>/dev/null && procs=$((procs + 1))
	done
	# Only mounts of this containerd count: other tests come and go.
	echo "mounts=$(grep -c "$CTD" /proc/self/mountinfo) procs=$procs" \
		"cgroups=$(find /sys/fs/cgroup -path "*/$NS/*" -type d 2>/dev/null | wc -l)" \
		"towel=$(find "$CTD/runc/$NS" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" \
		"shim=$(find "$CTD/state/io.containerd.runtime.v2.task/$NS" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" \
		"shims=$(pgrep -fc -- "-namespace $NS -id $ID-" || true)"
}

@test "50 containers with 3 execs each leave no processes, cgroups, mounts or state" {
	local before i id
	before=$(leftovers)
	for i in $(seq 50); do
		id=$ID-$i
		c_run -d "$IMAGE" "$id" sleep 1000
		c task exec --exec-id a "$id" true
		c task exec --exec-id b "$id" sh -c 'echo $$ >/dev/null'
		c task exec -d --exec-id c "$id" sleep 1000
		# ctr warns that the task was killed (exit code 137).
		c task rm -f "$id" >/dev/null 2>&1
		c containers rm "$id"
	done
	# Shims exit a moment after their task is deleted.
	local after
	for i in $(seq 50); do
		after=$(leftovers)
		[ "$after" = "$before" ] && break
		sleep 0.1
	done
	echo "before: $before" >&2
	echo "after:  $after" >&2
	[ "$after" = "$before" ]
}
