#!/usr/bin/env bats
# Rootless containers: an unprivileged user, made for the test, runs
# towel with `spec --rootless` bundles. State goes under
# $XDG_RUNTIME_DIR/towel, ids are mapped by the kernel or by
# newuidmap/newgidmap, cgroups are skipped unless delegated, and mount
# flags the kernel locks are kept.

load helpers

# The test user and its subordinate id ranges.
RL_USER=towel-rootless

setup_file() {
	command -v newuidmap >/dev/null && command -v newgidmap >/dev/null ||
		skip "newuidmap/newgidmap missing (apt-get install uidmap)"
	if ! id -u "$RL_USER" >/dev/null 2>&1; then
		useradd --no-create-home --shell /bin/sh "$RL_USER"
	fi
	# useradd allocates subordinate ranges where login.defs says so;
	# give the user some where it did not.
	local f
	for f in /etc/subuid /etc/subgid; do
		grep -q "^$RL_USER:" "$f" || echo "$RL_USER:700000:65536" >>"$f"
	done
	# A copy of the runtime the user can reach wherever the repository
	# is (a clone under /root is not).
	chmod o+x "$BATS_RUN_TMPDIR"
	install -m 0755 "$TOWEL" "$BATS_RUN_TMPDIR/towel-rootless"
}

setup() {
	requires_kernel_ns user
	command -v newuidmap >/dev/null || skip "newuidmap missing (apt-get install uidmap)"
	setup_common
	RL_UID=$(id -u "$RL_USER")
	RL_GID=$(id -g "$RL_USER")
	RL_SUBUID=$(awk -F: -v u="$RL_USER" '$1 == u { print $2; exit }' /etc/subuid)
	RL_SUBGID=$(awk -F: -v u="$RL_USER" '$1 == u { print $2; exit }' /etc/subgid)
	RL_XDG=$BATS_TEST_TMPDIR/xdg
	RL_TOWEL=$BATS_RUN_TMPDIR/towel-rootless
	# The user walks to its bundle through the directories bats made.
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_TEST_TMPDIR"
	install -d -m 0700 -o "$RL_USER" -g "$RL_GID" "$RL_XDG"
	BUNDLE=$BATS_TEST_TMPDIR/bundle
	export RL_UID RL_GID RL_SUBUID RL_SUBGID RL_XDG RL_TOWEL BUNDLE
}

teardown() {
	local id
	if [ -d "${RL_XDG:-}/towel" ]; then
		for id in $(as_user "$RL_TOWEL" list -q 2>/dev/null); do
			as_user "$RL_TOWEL" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	teardown_common
	[ -z "${LOCKED:-}" ] || umount "$LOCKED" 2>/dev/null || true
}

# as_user CMD... runs CMD as the test user, with its own environment and
# XDG_RUNTIME_DIR: nothing of root's reaches towel.
as_user() {
	runuser -u "$RL_USER" -- env -i PATH="$PATH" HOME=/ \
		XDG_RUNTIME_DIR="$RL_XDG" "$@"
}

# rl_towel runs towel as the test user with its default root.
rl_towel() {
	as_user "$RL_TOWEL" "$@"
}

# rl_in_container CMD... runs CMD in a container of the test user, as
# in_container does for root.
rl_in_container() {
	set_args "$@"
	run rl_towel run --bundle "$BUNDLE" "$CT" </dev/null
}

# rootless_bundle [busybox|debian] makes $BUNDLE owned by the test user,
# with the config `towel spec --rootless` writes as that user, terminal off.
rootless_bundle() {
	local kind=${1:-busybox}
	if [ "$kind" = busybox ]; then
		setup_busybox
		rm -f "$BUNDLE/config.json"
	else
		"$MKBUNDLE" "$BUNDLE" debian >/dev/null 2>"$BATS_TEST_TMPDIR/mkbundle.err" ||
			skip "no Debian rootfs: $(tail -n1 "$BATS_TEST_TMPDIR/mkbundle.err")"
		rm -f "$BUNDLE/config.json"
	fi
	chown -R "$RL_UID:$RL_GID" "$BUNDLE"
	chmod 0755 "$BUNDLE" "$BUNDLE/rootfs"
	(cd "$BUNDLE" && as_user "$RL_TOWEL" spec --rootless)
	update_config '.process.terminal = false'
}

@test "an unprivileged user runs busybox from the default spec --rootless config" {
	rootless_bundle busybox
	set_args sh -c 'id -u; cat /proc/self/uid_map; echo hello'
	run rl_towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[[ "${lines[1]}" =~ ^\ +0\ +$RL_UID\ +1$ ]]
	[ "${lines[2]}" = hello ]
	# Nothing is left, in the user's state root or anywhere else.
	[ -z "$(ls -A "$RL_XDG/towel")" ]
}

@test "an unprivileged user runs a Debian rootfs from the default spec --rootless config" {
	rootless_bundle debian
	set_args sh -c '. /etc/os-release; echo $ID $VERSION_CODENAME; id -un
		dpkg-query -W -f "\${Package}\n" dpkg'
	run rl_towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "debian bookworm" ]
	[ "${lines[1]}" = root ]
	[ "${lines[2]}" = dpkg ]
}

@test "a rootless container keeps its state in \$XDG_RUNTIME_DIR/towel; exec, kill, delete work" {
	rootless_bundle busybox
	set_args sleep 100
	as_user "$RL_TOWEL" run --detach --bundle "$BUNDLE" "$CT" </dev/null \
		>/dev/null 2>"$BATS_TEST_TMPDIR/err"
	[ -f "$RL_XDG/towel/$CT/state.json" ]
	[ ! -e "/run/towel/$CT" ]
	[ "$(stat -c %U "$RL_XDG/towel/$CT")" = "$RL_USER" ]

	run rl_towel state "$CT"
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = running ]
	local pid
	pid=$(jq -r .pid <<<"$output")
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = "$RL_UID" ]

	run rl_towel exec "$CT" id -u
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]

	run rl_towel kill "$CT" KILL
	[ "$status" -eq 0 ]
	run rl_towel delete --force "$CT"
	[ "$status" -eq 0 ]
	[ ! -e "$RL_XDG/towel/$CT" ]
}

@test "with only its own ids mapped, the user's container has setgroups denied" {
	rootless_bundle busybox
	rl_in_container sh -c 'cat /proc/self/setgroups; cat /proc/self/gid_map'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = deny ]
	[[ "${lines[1]}" =~ ^\ +0\ +$RL_GID\ +1$ ]]
}

@test "several ranges are mapped through newuidmap and newgidmap, with setgroups allowed" {
	rootless_bundle busybox
	update_config '.linux.uidMappings = [
			{"containerID": 0, "hostID": ($uid | tonumber), "size": 1},
			{"containerID": 1, "hostID": ($subuid | tonumber), "size": 65536}]
		| .linux.gidMappings = [
			{"containerID": 0, "hostID": ($gid | tonumber), "size": 1},
			{"containerID": 1, "hostID": ($subgid | tonumber), "size": 65536}]
		| .process.user = {"uid": 1000, "gid": 1000, "additionalGids": [5]}' \
		--arg uid "$RL_UID" --arg gid "$RL_GID" \
		--arg subuid "$RL_SUBUID" --arg subgid "$RL_SUBGID"
	set_args sleep 100
	as_user "$RL_TOWEL" run --detach --bundle "$BUNDLE" "$CT" </dev/null \
		>/dev/null 2>"$BATS_TEST_TMPDIR/err" || {
		cat "$BATS_TEST_TMPDIR/err"
		false
	}
	local pid
	pid=$(rl_towel state "$CT" | jq -r .pid)
	[ "$(wc -l <"/proc/$pid/uid_map")" -eq 2 ]
	[ "$(wc -l <"/proc/$pid/gid_map")" -eq 2 ]
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = $((RL_SUBUID + 999)) ]
	[ "$(awk '/^Gid:/ { print $2 }' "/proc/$pid/status")" = $((RL_SUBGID + 999)) ]
	# newgidmap wrote the gid map, so setgroups stays allowed and the
	# additional gid is set.
	[ "$(cat "/proc/$pid/setgroups")" = allow ]
	[ "$(awk '/^Groups:/ { print $2 }' "/proc/$pid/status")" = $((RL_SUBGID + 4)) ]
}

@test "a rootless container runs without a cgroup when the user cannot make one" {
	cgroup_v2 && skip "needs a cgroup v1 host, where users own no cgroup"
	rootless_bundle busybox
	set_args sleep 100
	as_user "$RL_TOWEL" run --detach --bundle "$BUNDLE" "$CT" </dev/null \
		>/dev/null 2>"$BATS_TEST_TMPDIR/err"
	[ "$(status_of_user "$CT")" = running ]
	[ -z "$(cgroups_named "$CT")" ]
}

# status_of_user ID prints the status of the user's container ID.
status_of_user() {
	rl_towel state "$1" 2>/dev/null | jq -r .status
}

@test "--rootless false makes an unprivileged user's create fail on the cgroup" {
	cgroup_v2 && skip "needs a cgroup v1 host, where users own no cgroup"
	rootless_bundle busybox
	set_args true
	run --separate-stderr rl_towel --rootless false run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *cgroup* ]]
	[ -z "$(ls -A "$RL_XDG/towel")" ]
}

@test "--rootless auto counts root in a user namespace as rootless" {
	cgroup_v2 && skip "needs a cgroup v1 host, where users own no cgroup"
	rootless_bundle busybox
	# Root of a user namespace the user made: euid 0, no real privilege.
	# Its spec --rootless maps that root; auto skips the cgroup it cannot
	# make, false tries and fails.
	local root=$BATS_TEST_TMPDIR/nsroot
	install -d -m 0700 -o "$RL_USER" "$root"
	rm "$BUNDLE/config.json"
	(cd "$BUNDLE" && as_user unshare --user --map-root-user "$RL_TOWEL" spec --rootless)
	update_config '.process.terminal = false
		| .process.args = ["cat", "/proc/self/uid_map"]'
	run as_user unshare --user --map-root-user "$RL_TOWEL" --root "$root" \
		run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^\ +0\ +0\ +1$ ]]
	run --separate-stderr as_user unshare --user --map-root-user "$RL_TOWEL" \
		--root "$root" --rootless false run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -ne 0 ]
	[[ "$stderr" == *cgroup* ]]
}

@test "a delegated cgroup v2 is used by a rootless container" {
	rootless_bundle busybox
	set_args sleep 100
	local deleg=towel-deleg-$$-$BATS_TEST_NUMBER
	# A cgroup v2 view in a mount namespace of its own; the subtree is
	# the user's, and the shell that starts towel is in a leaf of it.
	run unshare -m bash -euc '
		mount --make-rprivate /
		umount -l /sys/fs/cgroup
		mount -t cgroup2 none /sys/fs/cgroup
		d=/sys/fs/cgroup/'"$deleg"'
		mkdir -p "$d/leaf"
		chown -R '"$RL_UID"' "$d"
		echo $$ >"$d/leaf/cgroup.procs"
		runuser -u '"$RL_USER"' -- env -i PATH="$PATH" \
			XDG_RUNTIME_DIR='"$RL_XDG"' '"$RL_TOWEL"' run --detach \
			--bundle '"$BUNDLE"' '"$CT"' </dev/null >/dev/null
		pid=$(runuser -u '"$RL_USER"' -- env -i XDG_RUNTIME_DIR='"$RL_XDG"' \
			'"$RL_TOWEL"' state '"$CT"' | jq -r .pid)
		grep -qx "$pid" "$d/'"$CT"'/cgroup.procs" && echo in-cgroup
		runuser -u '"$RL_USER"' -- env -i XDG_RUNTIME_DIR='"$RL_XDG"' \
			'"$RL_TOWEL"' delete --force '"$CT"'
		[ ! -e "$d/'"$CT"'" ] && echo removed
		echo $$ >/sys/fs/cgroup/cgroup.procs
		rmdir "$d/leaf" "$d"'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = in-cgroup ]
	[ "${lines[1]}" = removed ]
}

@test "mount flags the kernel locks are kept, and clearing one is an error" {
	rootless_bundle busybox
	LOCKED=$BATS_TEST_TMPDIR/locked
	mkdir "$LOCKED"
	mount --bind "$LOCKED" "$LOCKED"
	mount -o remount,bind,ro,nosuid,nodev,noexec "$LOCKED"
	update_config '.mounts += [{"destination": "/mnt", "type": "bind",
		"source": $s, "options": ["rbind", "nosuid"]}]' --arg s "$LOCKED"
	set_args awk '$5 == "/mnt" { print $6 }' /proc/self/mountinfo
	run rl_towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[[ ",$output," == *,ro,* ]]
	[[ ",$output," == *,nosuid,* ]]
	[[ ",$output," == *,nodev,* ]]
	[[ ",$output," == *,noexec,* ]]

	# "rw" asks to clear a locked flag, which cannot be done.
	update_config '.mounts[-1].options = ["rbind", "rw"]'
	run --separate-stderr rl_towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"/mnt"* ]]
}

@test "id-mapped mounts are refused for rootless containers" {
	rootless_bundle busybox
	mkdir -p "$BATS_TEST_TMPDIR/src"
	update_config '.mounts += [{"destination": "/mnt", "type": "bind",
		"source": $s, "options": ["bind", "idmap"]}]' \
		--arg s "$BATS_TEST_TMPDIR/src"
	set_args true
	run --separate-stderr rl_towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"not supported for rootless containers"* ]]
}

@test "root of a user namespace the user made keeps its state under \$XDG_RUNTIME_DIR/towel" {
	rootless_bundle busybox
	rm "$BUNDLE/config.json"
	(cd "$BUNDLE" && as_user unshare --user --map-root-user "$RL_TOWEL" spec --rootless)
	update_config '.process.terminal = false | .process.args = ["sleep", "100"]'
	# As rootlesskit or `unshare -r` leave it: euid 0, USER the user's.
	as_user env USER="$RL_USER" unshare --user --map-root-user \
		"$RL_TOWEL" run --detach --bundle "$BUNDLE" "$CT" </dev/null \
		>/dev/null 2>"$BATS_TEST_TMPDIR/err"
	[ -f "$RL_XDG/towel/$CT/state.json" ]
	[ ! -e "/run/towel/$CT" ]
	as_user env USER="$RL_USER" unshare --user --map-root-user \
		"$RL_TOWEL" delete --force "$CT"
	[ ! -e "$RL_XDG/towel/$CT" ]
}
