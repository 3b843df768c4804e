#!/usr/bin/env bats
# OCI hooks: when each kind runs, what it gets on stdin, and what a
# failing or hanging hook does.

load helpers

setup() {
	setup_busybox
	HOOKS=$BATS_TEST_TMPDIR/hooks
	mkdir "$HOOKS"
	# startContainer hooks run inside the container, so the hook
	# directory is bound there too.
	update_config '.mounts += [{"destination": "/hooks", "type": "bind",
		"source": $h, "options": ["rbind"]}]' --arg h "$HOOKS"
}

teardown() {
	teardown_common
}

# host_hook NAME prints a hook, run on the host, that saves its stdin to
# $HOOKS/NAME.json and appends NAME to $HOOKS/log.
host_hook() {
	jq -nc --arg d "$HOOKS" --arg n "$1" '{"path": "/bin/sh",
		"args": ["sh", "-c", "cat >\($d)/\($n).json; echo \($n) >>\($d)/log"]}'
}

# add_all_hooks configures one hook of every kind.
add_all_hooks() {
	local start='{"path": "/bin/sh", "args": ["sh", "-c",
		"cat >/hooks/startContainer.json; echo startContainer >>/hooks/log"]}'
	update_config ".hooks = {
		\"prestart\": [$(host_hook prestart)],
		\"createRuntime\": [$(host_hook createRuntime)],
		\"createContainer\": [$(host_hook createContainer)],
		\"startContainer\": [$start],
		\"poststart\": [$(host_hook poststart)],
		\"poststop\": [$(host_hook poststop)]}"
}

@test "hooks of every kind run once, in lifecycle order" {
	add_all_hooks
	set_args true
	run towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -eq 0 ]

	run cat "$HOOKS/log"
	[ "${#lines[@]}" -eq 6 ]
	[ "${lines[*]:0:3}" = "prestart createRuntime createContainer" ]
	# startContainer runs in the container just before its process, and
	# poststart in the runtime once start has let it go, so which of the
	# two writes first is not fixed.
	[[ "${lines[*]:3:2}" == "startContainer poststart" ||
		"${lines[*]:3:2}" == "poststart startContainer" ]]
	[ "${lines[5]}" = poststop ]
}

@test "create runs the create hooks, start the start hooks, delete poststop" {
	add_all_hooks
	set_args sleep 100
	create_detached "$CT"
	[ "$(cat "$HOOKS/log" | xargs)" = "prestart createRuntime createContainer" ]

	towel start "$CT"
	wait_for_file "$HOOKS/poststart.json"
	wait_for_file "$HOOKS/startContainer.json"
	[ "$(head -n3 "$HOOKS/log" | xargs)" = "prestart createRuntime createContainer" ]
	[ "$(sort "$HOOKS/log" | xargs)" = "createContainer createRuntime poststart prestart startContainer" ]

	towel delete --force "$CT"
	[ "$(tail -n1 "$HOOKS/log")" = poststop ]
}

@test "each hook gets the container state on stdin" {
	add_all_hooks
	set_args true
	run towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -eq 0 ]

	local h
	for h in prestart createRuntime createContainer startContainer poststart poststop; do
		jq -e --arg id "$CT" '.id == $id' "$HOOKS/$h.json"
		jq -e --arg b "$BUNDLE" '.bundle == $b' "$HOOKS/$h.json"
		jq -e '.ociVersion | length > 0' "$HOOKS/$h.json"
	done
	jq -e '.status == "creating" and .pid > 0' "$HOOKS/prestart.json"
	jq -e '.status == "creating" and .pid > 0' "$HOOKS/createRuntime.json"
	jq -e '.status == "creating"' "$HOOKS/createContainer.json"
	jq -e '.pid > 0' "$HOOKS/poststart.json"
	jq -e '.status == "stopped"' "$HOOKS/poststop.json"
	# The pid the runtime hooks see is the init's pid on the host.
	[ "$(jq .pid "$HOOKS/createRuntime.json")" = "$(jq .pid "$HOOKS/poststart.json")" ]
}

@test "hooks get their args and env and nothing else" {
	update_config '.hooks.createRuntime = [{"path": "/bin/sh",
		"args": ["sh", "-c", "echo \"$0 $1 $FOO $PATH\" >\($d)/env", "first", "second"],
		"env": ["FOO=bar", "PATH=/hookpath"]}]' --arg d "$HOOKS"
	set_args true
	run towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -eq 0 ]
	[ "$(cat "$HOOKS/env")" = "first second bar /hookpath" ]
}

@test "createContainer hooks run in the container's namespaces" {
	update_config '.hooks.createContainer = [{"path": "/bin/sh",
		"args": ["sh", "-c", "readlink /proc/self/ns/mnt >\($d)/mnt; readlink /proc/self/ns/uts >\($d)/uts"]}]' \
		--arg d "$HOOKS"
	set_args sleep 100
	create_detached "$CT"
	local pid
	pid=$(pid_of "$CT")

	[ "$(cat "$HOOKS/mnt")" = "$(readlink "/proc/$pid/ns/mnt")" ]
	[ "$(cat "$HOOKS/uts")" = "$(readlink "/proc/$pid/ns/uts")" ]
}

@test "createRuntime hooks run in the runtime's namespaces" {
	update_config '.hooks.createRuntime = [{"path": "/bin/sh",
		"args": ["sh", "-c", "readlink /proc/self/ns/mnt >\($d)/mnt"]}]' --arg d "$HOOKS"
	set_args true
	run towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -eq 0 ]
	[ "$(cat "$HOOKS/mnt")" = "$(host_ns mnt)" ]
}

@test "a failing createRuntime hook fails create and leaves nothing behind" {
	update_config '.hooks.createRuntime = [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]'
	set_args sleep 100
	local before
	before=$(snapshot)

	towel_captured create --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	[ -z "$(towel list -q)" ]
	assert_nothing_left "$before" "$CT"
}

@test "a failing prestart hook fails run and leaves nothing behind" {
	update_config '.hooks.prestart = [{"path": "/bin/false"}]'
	set_args true
	local before
	before=$(snapshot)

	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	[ -z "$(towel list -q)" ]
	assert_nothing_left "$before" "$CT"
}

@test "a failing createContainer hook fails create and leaves nothing behind" {
	update_config '.hooks.createContainer = [{"path": "/bin/false"}]'
	set_args true
	local before
	before=$(snapshot)

	towel_captured create --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	[ -z "$(towel list -q)" ]
	assert_nothing_left "$before" "$CT"
}

@test "a hook that does not exist fails create" {
	update_config '.hooks.createRuntime = [{"path": "/no/such/hook"}]'
	set_args true
	local before
	before=$(snapshot)

	towel_captured create --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	assert_nothing_left "$before" "$CT"
}

@test "a hook that outlives its timeout is killed and fails create" {
	update_config '.hooks.createRuntime = [{"path": "/bin/sh",
		"args": ["sh", "-c", "sleep 3; touch \($d)/finished"], "timeout": 1}]' \
		--arg d "$HOOKS"
	set_args true
	local before
	before=$(snapshot)

	towel_captured create --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	assert_nothing_left "$before" "$CT"

	# Had the hook been left running it would have finished by now.
	sleep 3
	[ ! -e "$HOOKS/finished" ]
}

@test "a failing poststop hook does not stop delete" {
	update_config '.hooks.poststop = [{"path": "/bin/false"}]'
	set_args true
	create_detached "$CT"
	towel start "$CT"
	wait_for_status "$CT" stopped

	run towel delete "$CT"
	[ "$status" -eq 0 ]
	[ -z "$(towel list -q)" ]
}
