#!/usr/bin/env bats
# checkpoint and restore with criu.

load helpers

setup() {
	setup_busybox
	IMAGES=$BATS_TEST_TMPDIR/images
	WORK=$BATS_TEST_TMPDIR/work
	export IMAGES WORK
	# The processes write their counts into the rootfs.
	update_config '.root.readonly = false'
}

teardown() {
	teardown_common
	if [ -n "${NETNS:-}" ]; then
		ip netns delete "$NETNS" 2>/dev/null || true
	fi
}

# requires_criu skips a test when there is no criu that works here.
requires_criu() {
	criu check >/dev/null 2>&1 ||
		skip "no working criu in PATH (script/install-criu.sh installs one)"
}

# show_criu_log FILE prints the errors of a criu log, for a failed test.
show_criu_log() {
	[ -f "$1" ] && grep -B 5 Error "$1" >&2
	return 0
}

# checkpoint ID [ARG...] checkpoints ID into $IMAGES, logs in $WORK.
checkpoint() {
	local id=$1
	shift
	if ! towel checkpoint --image-path "$IMAGES" --work-path "$WORK" "$@" "$id"; then
		show_criu_log "$WORK/dump.log"
		return 1
	fi
}

# restore ID [ARG...] restores ID detached from $IMAGES and $BUNDLE, with
# its stdio on /dev/null.
restore() {
	local id=$1
	shift
	if ! towel restore --detach --bundle "$BUNDLE" --image-path "$IMAGES" \
		--work-path "$WORK" "$@" "$id" </dev/null >/dev/null 2>&1; then
		show_criu_log "$WORK/restore.log"
		return 1
	fi
}

# start_counter ID [FILE] runs ID detached, counting into FILE inside the
# container (default /tmp/count) five times a second, stdio on /dev/null.
start_counter() {
	local id=$1 file=${2:-/tmp/count}
	set_args sh -c "i=0; while true; do i=\$((i+1)); echo \$i > $file; sleep 0.2; done"
	towel run --detach --bundle "$BUNDLE" "$id" </dev/null >/dev/null 2>&1
	wait_for_count "$BUNDLE/rootfs$file" 3
}

# wait_for_count FILE N waits up to 10 s for the count in FILE to reach N.
wait_for_count() {
	local i n
	for i in $(seq 100); do
		n=$(cat "$1" 2>/dev/null) || n=0
		[ "${n:-0}" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "count in $1 is ${n:-none}, not $2" >&2
	return 1
}

@test "checkpoint stops a counting container and restore lets it count on" {
	requires_criu
	start_counter "$CT"

	checkpoint "$CT"
	# The container is gone, its count stands still.
	run towel state "$CT"
	[ "$status" -ne 0 ]
	local saved
	saved=$(cat "$BUNDLE/rootfs/tmp/count")
	sleep 0.5
	[ "$(cat "$BUNDLE/rootfs/tmp/count")" = "$saved" ]
	[ -z "$(cgroups_named "$CT")" ]

	restore "$CT"
	[ "$(status_of "$CT")" = running ]
	# Counting on from where it was, not from 1 again.
	wait_for_count "$BUNDLE/rootfs/tmp/count" $((saved + 3))

	# The restored container is like any other.
	run towel exec "$CT" cat /tmp/count
	[ "$status" -eq 0 ]
	[ "$output" -gt "$saved" ]
	[ -n "$(cgroups_named "$CT")" ]
	towel kill "$CT" KILL
	wait_for_status "$CT" stopped
	towel delete "$CT"
	[ -z "$(cgroups_named "$CT")" ]
}

@test "a container can be checkpointed and restored twice" {
	requires_criu
	start_counter "$CT"
	local i saved
	for i in 1 2; do
		checkpoint "$CT"
		saved=$(cat "$BUNDLE/rootfs/tmp/count")
		restore "$CT"
		wait_for_count "$BUNDLE/rootfs/tmp/count" $((saved + 2))
	done
}

@test "checkpoint --leave-running keeps the container running" {
	requires_criu
	start_counter "$CT"
	local pid
	pid=$(pid_of "$CT")

	checkpoint "$CT" --leave-running
	[ "$(status_of "$CT")" = running ]
	[ "$(pid_of "$CT")" = "$pid" ]
	local saved
	saved=$(cat "$BUNDLE/rootfs/tmp/count")
	wait_for_count "$BUNDLE/rootfs/tmp/count" $((saved + 2))

	# The images are complete: the container comes back from them.
	towel delete --force "$CT"
	restore "$CT"
	[ "$(status_of "$CT")" = running ]
	wait_for_count "$BUNDLE/rootfs/tmp/count" $((saved + 2))
}

@test "restore with a new id makes that container, in its own cgroup" {
	requires_criu
	start_counter "$CT"
	checkpoint "$CT"
	local saved
	saved=$(cat "$BUNDLE/rootfs/tmp/count")

	restore "$CT2" --pid-file "$BATS_TEST_TMPDIR/pid"
	[ "$(status_of "$CT2")" = running ]
	[ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(pid_of "$CT2")" ]
	run towel state "$CT"
	[ "$status" -ne 0 ]
	wait_for_count "$BUNDLE/rootfs/tmp/count" $((saved + 2))

	# Its processes are in the cgroup of the new id.
	local pid dir
	pid=$(pid_of "$CT2")
	dir=$(cgroup_dir "$pid" pids)
	[[ "$dir" == *"$CT2" ]]
	grep -qx "$pid" "$dir/cgroup.procs"
	[ -z "$(cgroups_named "$CT" | grep -v -- "$CT2")" ]
}

@test "restore refuses an id that exists, and leaves that container alone" {
	requires_criu
	start_counter "$CT"
	checkpoint "$CT" --leave-running
	local pid
	pid=$(pid_of "$CT")

	run towel restore --detach --bundle "$BUNDLE" --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"already exists"* ]]
	[ "$(status_of "$CT")" = running ]
	[ "$(pid_of "$CT")" = "$pid" ]
}

@test "checkpoint refuses a created container" {
	requires_criu
	set_args sleep 100
	create_detached "$CT"
	run towel checkpoint --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot checkpoint a created container"* ]]
	[ "$(status_of "$CT")" = created ]
	[ ! -e "$IMAGES" ]
}

@test "--manage-cgroups-mode ignore neither saves nor restores cgroups" {
	requires_criu
	# A process of the container in a cgroup below the container's own,
	# as exec --cgroup or a delegated cgroup manager would leave it.
	set_args sh -c 'sleep 1000 & i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done'
	towel run --detach --bundle "$BUNDLE" "$CT" </dev/null >/dev/null 2>&1
	wait_for_count "$BUNDLE/rootfs/tmp/count" 2
	local pid sleeper dir
	pid=$(pid_of "$CT")
	sleeper=$(pgrep -P "$pid" -f "sleep 1000")
	dir=$(cgroup_dir "$pid" pids)
	mkdir "$dir/sub"
	echo "$sleeper" >"$dir/sub/cgroup.procs"

	checkpoint "$CT" --manage-cgroups-mode ignore
	restore "$CT2" --manage-cgroups-mode ignore

	# Every process is in the new container's own cgroup: criu made no
	# cgroup and moved nothing.
	pid=$(pid_of "$CT2")
	sleeper=$(pgrep -P "$pid" -f "sleep 1000")
	dir=$(cgroup_dir "$pid" pids)
	[[ "$dir" == *"$CT2" ]]
	[ ! -e "$dir/sub" ]
	[ "$(cgroup_dir "$sleeper" pids)" = "$dir" ]
}

@test "without --manage-cgroups-mode the cgroups below the container's are restored" {
	requires_criu
	set_args sh -c 'sleep 1000 & i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done'
	towel run --detach --bundle "$BUNDLE" "$CT" </dev/null >/dev/null 2>&1
	wait_for_count "$BUNDLE/rootfs/tmp/count" 2
	local pid sleeper dir
	pid=$(pid_of "$CT")
	sleeper=$(pgrep -P "$pid" -f "sleep 1000")
	dir=$(cgroup_dir "$pid" pids)
	mkdir "$dir/sub"
	echo "$sleeper" >"$dir/sub/cgroup.procs"

	checkpoint "$CT"
	restore "$CT2"

	pid=$(pid_of "$CT2")
	sleeper=$(pgrep -P "$pid" -f "sleep 1000")
	dir=$(cgroup_dir "$pid" pids)
	[[ "$dir" == *"$CT2" ]]
	[ "$(cgroup_dir "$sleeper" pids)" = "$dir/sub" ]
}

@test "a container with a terminal is restored with a new pty sent to --console-socket" {
	requires_criu
	setup_recvtty
	update_config '.process.terminal = true'
	set_args sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done'
	towel run --detach --console-socket "$CONSOLE_SOCKET" --bundle "$BUNDLE" \
		"$CT" </dev/null >/dev/null 2>&1
	wait_for_count "$BUNDLE/rootfs/tmp/count" 2
	local pid
	pid=$(pid_of "$CT")
	[[ "$(readlink "/proc/$pid/fd/0")" == /dev/pts/* ]]

	checkpoint "$CT"
	local saved
	saved=$(cat "$BUNDLE/rootfs/tmp/count")
	restore "$CT" --console-socket "$CONSOLE_SOCKET"
	wait_for_count "$BUNDLE/rootfs/tmp/count" $((saved + 2))

	# The process is on a terminal again, and it is its controlling one.
	run towel exec "$CT" sh -c 'readlink /proc/1/fd/0; cat /proc/1/stat'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == /dev/pts/* ]]
	# Field 7 of stat is tty_nr: non-zero with a controlling terminal.
	[ "$(echo "${lines[1]}" | awk '{ print $7 }')" -ne 0 ]

	# Without a console socket, a detached restore of a terminal fails
	# before it touches anything.
	towel delete --force "$CT"
	run towel restore --detach --bundle "$BUNDLE" --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"console socket"* ]]
	run towel state "$CT"
	[ "$status" -ne 0 ]
}

@test "an established TCP connection on loopback survives with --tcp-established" {
	requires_criu
	# lo is down in a new network namespace: the container brings it up.
	# The listener's stdin must not end, or nc closes the connection.
	update_config '.process.capabilities.bounding += ["CAP_NET_ADMIN"]
		| .process.capabilities.effective += ["CAP_NET_ADMIN"]
		| .process.capabilities.permitted += ["CAP_NET_ADMIN"]'
	set_args sh -c 'ip link set lo up
		sleep 1000 | nc -l -p 5000 > /tmp/received &
		sleep 0.5
		i=0; while true; do i=$((i+1)); echo $i; echo $i > /tmp/count; sleep 0.2; done | nc 127.0.0.1 5000'
	towel run --detach --bundle "$BUNDLE" "$CT" </dev/null >/dev/null 2>&1
	wait_for_count "$BUNDLE/rootfs/tmp/count" 3
	local received=$BUNDLE/rootfs/tmp/received
	wait_for_file "$received"
	run towel exec "$CT" netstat -tn
	[[ "$output" == *"127.0.0.1:5000"*ESTABLISHED* ]]

	# Without the flag criu refuses the open connection, and the
	# container runs on.
	run --separate-stderr towel checkpoint --image-path "$IMAGES" \
		--work-path "$WORK" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"criu dump failed: "*"(log: $WORK/dump.log)"* ]]
	[ "$(status_of "$CT")" = running ]

	checkpoint "$CT" --tcp-established
	local saved
	saved=$(tail -n 1 "$received")
	restore "$CT" --tcp-established

	# The sender counts on through the same connection: the receiver
	# got the lines that follow, none missing.
	local i n
	for i in $(seq 100); do
		n=$(tail -n 1 "$received")
		[ "$n" -ge $((saved + 3)) ] && break
		sleep 0.1
	done
	[ "$n" -ge $((saved + 3)) ]
	[ "$(sed -n "$((saved + 1))p" "$received")" = $((saved + 1)) ]
	run towel exec "$CT" netstat -tn
	[[ "$output" == *"127.0.0.1:5000"*ESTABLISHED* ]]
}

@test "a bind mount is restored from the source the restoring bundle names" {
	requires_criu
	mkdir "$BATS_TEST_TMPDIR/data" "$BATS_TEST_TMPDIR/data2"
	update_config '.mounts += [{"source": $src, "destination": "/data",
		"type": "bind", "options": ["rbind", "rw"]}]' \
		--arg src "$BATS_TEST_TMPDIR/data"
	set_args sh -c 'i=0; while true; do i=$((i+1)); echo $i > /data/count; sleep 0.2; done'
	towel run --detach --bundle "$BUNDLE" "$CT" </dev/null >/dev/null 2>&1
	wait_for_count "$BATS_TEST_TMPDIR/data/count" 3

	checkpoint "$CT"
	local saved
	saved=$(cat "$BATS_TEST_TMPDIR/data/count")
	cp "$BATS_TEST_TMPDIR/data/count" "$BATS_TEST_TMPDIR/data2/count"

	# The same directory comes back.
	restore "$CT"
	wait_for_count "$BATS_TEST_TMPDIR/data/count" $((saved + 2))
	checkpoint "$CT"
	saved=$(cat "$BATS_TEST_TMPDIR/data/count")

	# Another bundle may bind another directory there.
	update_config '(.mounts[] | select(.destination == "/data")).source = $src' \
		--arg src "$BATS_TEST_TMPDIR/data2"
	restore "$CT"
	wait_for_count "$BATS_TEST_TMPDIR/data2/count" $((saved + 2))
	[ "$(cat "$BATS_TEST_TMPDIR/data/count")" = "$saved" ]
}

@test "checkpoint --pre-dump without soft-dirty tracking fails clearly and changes nothing" {
	requires_criu
	if criu check --feature mem_dirty_track >/dev/null 2>&1; then
		skip "this kernel has soft-dirty tracking"
	fi
	start_counter "$CT"
	local pid
	pid=$(pid_of "$CT")

	run --separate-stderr towel checkpoint --pre-dump --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"--pre-dump needs memory change tracking"* ]]
	[ ! -e "$IMAGES" ]
	[ "$(status_of "$CT")" = running ]
	[ "$(pid_of "$CT")" = "$pid" ]
	local saved
	saved=$(cat "$BUNDLE/rootfs/tmp/count")
	wait_for_count "$BUNDLE/rootfs/tmp/count" $((saved + 2))
}

@test "without criu, checkpoint and restore fail in one line and change nothing" {
	start_counter "$CT"
	local pid
	pid=$(pid_of "$CT")
	mkdir "$BATS_TEST_TMPDIR/empty"

	run --separate-stderr env PATH="$BATS_TEST_TMPDIR/empty" \
		"$TOWEL" --root "$ROOT" checkpoint --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"criu not found in \$PATH"* ]]
	[ ! -e "$IMAGES" ]
	[ "$(status_of "$CT")" = running ]
	[ "$(pid_of "$CT")" = "$pid" ]

	mkdir "$IMAGES"
	run --separate-stderr env PATH="$BATS_TEST_TMPDIR/empty" \
		"$TOWEL" --root "$ROOT" restore -d --bundle "$BUNDLE" \
		--image-path "$IMAGES" "$CT2"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"criu not found in \$PATH"* ]]
	run towel state "$CT2"
	[ "$status" -ne 0 ]
	[ -z "$(cgroups_named "$CT2")" ]
}

@test "a criu that does not work on this kernel is reported in one line" {
	start_counter "$CT"
	# What criu 3.17 prints on Linux 6.18.
	mkdir "$BATS_TEST_TMPDIR/bin"
	cat >"$BATS_TEST_TMPDIR/bin/criu" <<-'EOF'
		#!/bin/sh
		echo "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds" >&2
		echo "Error (criu/crtools.c:260): Could not initialize kernel features detection." >&2
		exit 1
	EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/criu"

	run --separate-stderr env PATH="$BATS_TEST_TMPDIR/bin:$PATH" \
		"$TOWEL" --root "$ROOT" checkpoint --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"criu does not work on this kernel"*"Could not initialize kernel features detection."* ]]
	[ ! -e "$IMAGES" ]
	[ "$(status_of "$CT")" = running ]
}

@test "the global --criu is ignored with a warning" {
	requires_criu
	start_counter "$CT"
	run --separate-stderr "$TOWEL" --root "$ROOT" --criu /nonexistent/criu \
		checkpoint --image-path "$IMAGES" --leave-running "$CT"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"--criu is ignored"* ]]
	[ -e "$IMAGES/inventory.img" ]
}

@test "bad checkpoint options are refused before criu runs" {
	requires_criu
	start_counter "$CT"
	run towel checkpoint --manage-cgroups-mode bogus --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"invalid --manage-cgroups-mode"* ]]
	run towel checkpoint --page-server nohost --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"--page-server"* ]]
	run towel checkpoint --empty-ns pid --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"--empty-ns"* ]]
	run towel checkpoint --parent-path /abs --image-path "$IMAGES" "$CT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"--parent-path must be relative"* ]]
	[ ! -e "$IMAGES" ]
	[ "$(status_of "$CT")" = running ]
}

@test "features says checkpoint is enabled" {
	run towel features
	[ "$status" -eq 0 ]
	jq -e '.annotations["org.opencontainers.runc.checkpoint.enabled"] == "true"' <<<"$output"
}

@test "a foreground restore gives the process its pipes and exits with its status" {
	requires_criu
	set_args sh -c 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo $i; echo $i > /tmp/count; sleep 0.1; done; exit 3'
	# A pipe for stdout: criu cannot save the other end of a pipe, the
	# restore puts its own stdout in its place.
	towel run --detach --bundle "$BUNDLE" "$CT" </dev/null 2>/dev/null \
		> >(cat >"$BATS_TEST_TMPDIR/before")
	wait_for_count "$BUNDLE/rootfs/tmp/count" 3
	checkpoint "$CT"
	local saved
	saved=$(cat "$BUNDLE/rootfs/tmp/count")

	run towel restore --bundle "$BUNDLE" --image-path "$IMAGES" "$CT" </dev/null
	[ "$status" -eq 3 ]
	# The count goes on where it stood, on restore's stdout, to its end.
	[ "${lines[0]}" -ge "$saved" ] && [ "${lines[0]}" -le $((saved + 1)) ]
	[ "${lines[-1]}" = 30 ]
	# A foreground restore deletes the container when it exits.
	run towel state "$CT"
	[ "$status" -ne 0 ]
}

@test "the org.criu.config annotation names criu's configuration file" {
	requires_criu
	echo "log-file=custom.log" >"$BATS_TEST_TMPDIR/criu.conf"
	update_config '.annotations["org.criu.config"] = $f' \
		--arg f "$BATS_TEST_TMPDIR/criu.conf"
	start_counter "$CT"
	checkpoint "$CT"
	[ -f "$WORK/custom.log" ]
	[ ! -e "$WORK/dump.log" ]
	restore "$CT"
	[ -f "$WORK/custom.log" ]
	[ ! -e "$WORK/restore.log" ]
	[ "$(status_of "$CT")" = running ]
}

@test "a container in a network namespace joined by path is restored into it" {
	requires_criu
	local ns=towel-cr-$$-$BATS_TEST_NUMBER
	ip netns add "$ns"
	NETNS=$ns
	update_config '(.linux.namespaces[] | select(.type == "network")).path = $p' \
		--arg p "/run/netns/$ns"
	start_counter "$CT"
	local inode
	inode=$(stat -L -c %i "/run/netns/$ns")

	checkpoint "$CT"
	restore "$CT"
	local pid
	pid=$(pid_of "$CT")
	[ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$inode" ]
	towel delete --force "$CT"
	ip netns delete "$ns"
}

@test "a container whose stdio are files of the caller gets restore's stdio" {
	requires_criu
	set_args sh -c 'i=0; while true; do i=$((i+1)); echo $i; echo $i > /tmp/count; sleep 0.2; done'
	# Files on a mount the container does not see: criu cannot save
	# them, the restore hands over its own in their place. Opened for
	# appending, as logs are: criu checks the size of other files.
	towel run --detach --bundle "$BUNDLE" "$CT" </dev/null \
		>>"$BATS_TEST_TMPDIR/before" 2>&1
	wait_for_count "$BUNDLE/rootfs/tmp/count" 3
	checkpoint "$CT"
	local saved
	saved=$(cat "$BUNDLE/rootfs/tmp/count")

	towel restore --detach --bundle "$BUNDLE" --image-path "$IMAGES" "$CT" \
		</dev/null >>"$BATS_TEST_TMPDIR/after" 2>&1
	wait_for_count "$BUNDLE/rootfs/tmp/count" $((saved + 3))
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/before")" = "$saved" ]
	[ "$(head -n 1 "$BATS_TEST_TMPDIR/after")" = $((saved + 1)) ]
}

@test "restore runs the prestart and createRuntime hooks with the restored pid" {
	requires_criu
	start_counter "$CT"
	checkpoint "$CT"

	local out=$BATS_TEST_TMPDIR/hooks
	update_config '.hooks = {
		"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > \($o).prestart"]}],
		"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > \($o).createRuntime"]}]}' \
		--arg o "$out"
	restore "$CT"
	local pid
	pid=$(pid_of "$CT")
	jq -e --argjson p "$pid" '.pid == $p and .status == "creating"' "$out.prestart"
	jq -e --argjson p "$pid" '.pid == $p' "$out.createRuntime"
}
