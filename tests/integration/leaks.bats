#!/usr/bin/env bats
# Nothing outlives a container: many cycles, and a runtime killed in the
# middle of create.

load helpers

setup() {
	setup_busybox
	set_args true
	mkdir -p "$ROOT"
}

teardown() {
	teardown_common
}

@test "100 run cycles leave no mount, cgroup, process or state behind" {
	local before i
	before=$(snapshot)

	for i in $(seq 100); do
		towel run --bundle "$BUNDLE" "$CT-$i" </dev/null >/dev/null ||
			fail_cycle "$i"
	done

	assert_nothing_left "$before" "$CT"
	[ "$(count_state_dirs)" -eq 0 ]
}

@test "50 create, start, delete cycles leave nothing behind" {
	local before i
	before=$(snapshot)

	for i in $(seq 50); do
		create_detached "$CT-$i"
		towel start "$CT-$i"
		wait_for_status "$CT-$i" stopped
		towel delete "$CT-$i"
	done

	assert_nothing_left "$before" "$CT"
}

@test "20 run --detach and delete --force cycles leave nothing behind" {
	set_args sleep 100
	local before i
	before=$(snapshot)

	for i in $(seq 20); do
		run_detached "$CT-$i"
		towel delete --force "$CT-$i"
	done

	assert_nothing_left "$before" "$CT"
}

@test "a failed create in a loop leaves nothing behind" {
	update_config '.process.cwd = "relative"'
	local before i
	before=$(snapshot)

	for i in $(seq 20); do
		if towel create --bundle "$BUNDLE" "$CT-$i" </dev/null >/dev/null 2>&1; then
			fail_cycle "$i"
		fi
	done

	assert_nothing_left "$before" "$CT"
}

@test "a towel killed during create leaves a container that delete --force removes" {
	local marker=$BATS_TEST_TMPDIR/hook-started
	update_config '.hooks.createRuntime = [{"path": "/bin/sh",
		"args": ["sh", "-c", "touch \($m); sleep 5"]}]' --arg m "$marker"
	set_args sleep 100
	local before
	before=$(snapshot)

	"$TOWEL" --root "$ROOT" create --bundle "$BUNDLE" "$CT" \
		</dev/null >"$BATS_TEST_TMPDIR/create.out" 2>&1 &
	local createpid=$!
	wait_for_file "$marker"
	kill -KILL "$createpid"
	wait "$createpid" || true

	run towel delete --force "$CT"
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/$CT" ]
	# The container's init may still be on its way out.
	local i
	for i in $(seq 50); do
		[ "$(count_procs)" -eq 0 ] && break
		sleep 0.1
	done
	assert_nothing_left "$before" "$CT"
}

# fail_cycle N reports which cycle failed.
fail_cycle() {
	echo "cycle $1 failed" >&2
	return 1
}
