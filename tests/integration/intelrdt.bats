#!/usr/bin/env bats
# Intel RDT (linux.intelRdt) through resctrl. The test machine has no
# resctrl: what can be tested here is the clear failure when a config asks
# for it and that nothing of resctrl is touched when it does not. Groups,
# schemata and monitoring are unit-tested on a fake resctrl
# (libcontainer/intelrdt).

load helpers

setup() {
	setup_busybox
}

teardown() {
	teardown_common
}

resctrl_mounted() {
	grep -q ' - resctrl ' /proc/self/mountinfo
}

@test "a config with intelRdt fails create clearly when resctrl is not mounted, and leaves nothing" {
	resctrl_mounted && skip "resctrl is mounted on this host"
	update_config '.linux.intelRdt = {"l3CacheSchema": "L3:0=f"}'
	local before
	before=$(snapshot)
	# stdout on /dev/null: a create that wrongly succeeds must not leave
	# its init holding bats' pipe.
	run --separate-stderr bash -c '"$TOWEL_BINARY" --root "$ROOT" \
		create --bundle "$BUNDLE" "$CT" </dev/null >/dev/null'
	echo "$stderr"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"intelRdt: resctrl is not mounted"* ]]
	assert_nothing_left "$before" "$CT"
}

@test "a config without intelRdt touches nothing of resctrl" {
	set_args true
	strace -f -qq -s 256 -o "$BATS_TEST_TMPDIR/trace" \
		"$TOWEL" --root "$ROOT" run --bundle "$BUNDLE" "$CT" </dev/null
	run grep -i resctrl "$BATS_TEST_TMPDIR/trace"
	[ "$status" -ne 0 ]

	# The same trace of a config that asks for it does name resctrl, so
	# the check above can see a probe.
	update_config '.linux.intelRdt = {"closID": "towel-test"}'
	strace -f -qq -s 256 -o "$BATS_TEST_TMPDIR/trace2" \
		"$TOWEL" --root "$ROOT" run --bundle "$BUNDLE" "$CT" </dev/null ||
		true
	grep -qi resctrl "$BATS_TEST_TMPDIR/trace2"
}

@test "update of the Intel RDT schemata fails clearly without resctrl and changes nothing" {
	resctrl_mounted && skip "resctrl is mounted on this host"
	set_args sleep 1000
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	run --separate-stderr towel update --l3-cache-schema 'L3:0=f' "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"Intel RDT/CAT: l3 cache schema is not enabled"* ]]

	run --separate-stderr towel update --mem-bw-schema 'MB:0=50' "$CT"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"Intel RDT/MBA: memory bandwidth schema is not enabled"* ]]

	[ "$(pid_of "$CT")" = "$pid" ]
	[ "$(towel state "$CT" | jq -r .status)" = running ]
}

@test "features says Intel RDT is supported" {
	run towel features
	[ "$status" -eq 0 ]
	[ "$(jq -r .linux.intelRdt.enabled <<<"$output")" = true ]
}
