#!/usr/bin/env bats
# User namespaces: maps of several ranges, setgroups, ids on the host, and
# joining an existing user namespace by path with the other namespaces.

load helpers

setup() {
	requires_kernel_ns user
	setup_busybox
	# The container's root is an unprivileged host user that must walk
	# through the run directory bats makes 0700.
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_TEST_TMPDIR"
}

teardown() {
	teardown_common
	[ -z "${NSFILE:-}" ] || umount "$NSFILE" 2>/dev/null || true
}

# userns_config MAPS gives the container a new user namespace with MAPS
# (a JSON list) as both its uid and gid maps.
userns_config() {
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = $m | .linux.gidMappings = $m' \
		--argjson m "$1"
}

# The maps most tests use: container 0-999 are host 100000-100999, and
# container 1000-1999 are host 200000-200999.
TWO_RANGES='[{"containerID": 0, "hostID": 100000, "size": 1000},
	{"containerID": 1000, "hostID": 200000, "size": 1000}]'

# map_lines prints a uid_map or gid_map as "inside outside count" lines,
# without procfs's padding.
map_lines() {
	awk 'NF == 3 { print $1, $2, $3; next } { print }'
}

@test "a user namespace gets every range of its uid and gid maps" {
	userns_config "$TWO_RANGES"
	in_container sh -c 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map'
	[ "$status" -eq 0 ]
	run map_lines <<<"$output"
	[ "${lines[0]}" = "0 100000 1000" ]
	[ "${lines[1]}" = "1000 200000 1000" ]
	[ "${lines[2]}" = -- ]
	[ "${lines[3]}" = "0 100000 1000" ]
	[ "${lines[4]}" = "1000 200000 1000" ]
}

@test "a process user in the second range runs as the mapped host uid" {
	userns_config "$TWO_RANGES"
	update_config '.process.user = {"uid": 1005, "gid": 1006}'
	set_args sleep 100
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = 200005 ]
	[ "$(awk '/^Gid:/ { print $2 }' "/proc/$pid/status")" = 200006 ]
}

@test "setgroups stays allowed for root, so additional gids work" {
	userns_config "$TWO_RANGES"
	update_config '.process.user = {"uid": 0, "gid": 0,
		"additionalGids": [5, 1001]}'
	in_container sh -c 'cat /proc/self/setgroups; id -G'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = allow ]
	[ "${lines[1]}" = "0 5 1001" ]
}

@test "a file a container user makes is owned by the mapped host id" {
	userns_config "$TWO_RANGES"
	update_config '.root.readonly = false'
	mkdir "$BUNDLE/rootfs/data"
	chown 100000:100000 "$BUNDLE/rootfs/data"
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	chmod 1777 "$BUNDLE/rootfs/data"
	in_container sh -c 'touch /data/by-1000 && stat -c %u:%g /data /data/by-1000'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0:0 ]
	[ "${lines[1]}" = 1000:1000 ]
	[ "$(stat -c %u:%g "$BUNDLE/rootfs/data/by-1000")" = 200000:200000 ]
}

# start_owner starts container $CT2 with a user and network namespace of
# its own, sleeping, for another container to join; its pid is in $OWNER.
start_owner() {
	local bundle=$BUNDLE
	BUNDLE=$BATS_TEST_TMPDIR/owner
	cp -a "$bundle" "$BUNDLE"
	userns_config "$TWO_RANGES"
	set_args sleep 100
	run_detached "$CT2"
	OWNER=$(pid_of "$CT2")
	BUNDLE=$bundle
}

@test "a container joins a user namespace by path together with new and joined namespaces" {
	start_owner
	# Join the owner's user and network namespaces; make new mount,
	# pid, uts and ipc namespaces, which the joined user namespace owns.
	update_config '.linux.namespaces = [
		{"type": "user", "path": "/proc/'"$OWNER"'/ns/user"},
		{"type": "network", "path": "/proc/'"$OWNER"'/ns/net"},
		{"type": "mount"}, {"type": "pid"}, {"type": "uts"}, {"type": "ipc"}]'
	set_args sh -c 'for n in user net mnt uts; do readlink /proc/self/ns/$n; \
		done; cat /proc/self/uid_map; hostname; echo $$'
	run towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(readlink "/proc/$OWNER/ns/user")" ]
	[ "${lines[1]}" = "$(readlink "/proc/$OWNER/ns/net")" ]
	[ "${lines[2]}" != "$(readlink "/proc/$OWNER/ns/mnt")" ]
	[ "${lines[3]}" != "$(readlink "/proc/$OWNER/ns/uts")" ]
	[ "$(map_lines <<<"${lines[4]}")" = "0 100000 1000" ]
	[ "$(map_lines <<<"${lines[5]}")" = "1000 200000 1000" ]
	[ "${lines[6]}" = runc ]
	[ "${lines[7]}" = 1 ]
}

@test "a container that joins a user namespace runs as its mapped root on the host" {
	start_owner
	update_config '.linux.namespaces += [
		{"type": "user", "path": "/proc/'"$OWNER"'/ns/user"}]'
	set_args sleep 100
	run_detached "$CT"
	local pid
	pid=$(pid_of "$CT")
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = 100000 ]
	[ "$(readlink "/proc/$pid/ns/user")" = "$(readlink "/proc/$OWNER/ns/user")" ]
	# The mount namespace is new, and owned by the joined user namespace:
	# root in it could mount.
	[ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink "/proc/$OWNER/ns/mnt")" ]
}

@test "a user namespace bound to a file can be joined, and the same maps are accepted" {
	start_owner
	NSFILE=$BATS_TEST_TMPDIR/userns
	touch "$NSFILE"
	mount --bind "/proc/$OWNER/ns/user" "$NSFILE"
	update_config '.linux.namespaces += [{"type": "user", "path": $p}]
		| .linux.uidMappings = $m | .linux.gidMappings = $m' \
		--arg p "$NSFILE" --argjson m "$TWO_RANGES"
	in_container readlink /proc/self/ns/user
	[ "$status" -eq 0 ]
	[ "$output" = "$(readlink "/proc/$OWNER/ns/user")" ]
}

@test "maps that differ from the joined user namespace's are refused" {
	start_owner
	update_config '.linux.namespaces += [{"type": "user", "path": $p}]
		| .linux.uidMappings = $m | .linux.gidMappings = $m' \
		--arg p "/proc/$OWNER/ns/user" \
		--argjson m '[{"containerID": 0, "hostID": 300000, "size": 10}]'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"differ from the namespace's"* ]]
	[ "$(status_of "$CT")" = "" ]
}

@test "idmap in a container that joins a user namespace uses that namespace's maps" {
	start_owner
	mkdir -p "$BATS_TEST_TMPDIR/src" "$BUNDLE/rootfs/mnt"
	touch "$BATS_TEST_TMPDIR/src/f"
	chown 1001:1002 "$BATS_TEST_TMPDIR/src/f"
	update_config '.linux.namespaces += [{"type": "user", "path": $p}]
		| .mounts += [{"destination": "/mnt", "type": "bind",
			"source": $s, "options": ["bind", "idmap"]}]' \
		--arg p "/proc/$OWNER/ns/user" --arg s "$BATS_TEST_TMPDIR/src"
	in_container stat -c %u:%g /mnt/f
	[ "$status" -eq 0 ]
	[ "$output" = 1001:1002 ]
}

@test "a bind source the container's root cannot reach on the host is mounted by the runtime" {
	userns_config "$TWO_RANGES"
	# Only the host's root may walk through locked/ to the source.
	local locked=$BATS_TEST_TMPDIR/locked
	mkdir -p "$locked/shared"
	chmod 0700 "$locked"
	echo readable >"$locked/shared/file"
	mkdir "$BUNDLE/rootfs/shared"
	update_config '.mounts += [{"destination": "/shared", "type": "bind",
		"source": $s, "options": ["rbind", "ro"]}]' --arg s "$locked/shared"
	in_container cat /shared/file
	[ "$status" -eq 0 ]
	[ "$output" = readable ]
}
