#!/usr/bin/env bats
# id-mapped bind mounts: mount uidMappings and gidMappings, the idmap and
# ridmap options, what the container sees through them and what lands on
# the host.

load helpers

setup() {
	setup_busybox
	# The container's root is host uid 100000 and walks to the rootfs
	# through the run directory bats makes 0700.
	chmod o+x "$BATS_RUN_TMPDIR" "$BATS_TEST_TMPDIR"
	mkdir -p "$BUNDLE/rootfs/mnt" "$BUNDLE/rootfs/mnt2"
	SRC=$BATS_TEST_TMPDIR/src
	mkdir -p "$SRC"
	echo data >"$SRC/f"
}

teardown() {
	teardown_common
}

# userns_config gives the container a user namespace mapping its ids
# 0-65535 to host ids 100000-165535.
userns_config() {
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
}

# add_mount JSON appends one mount to the config.
add_mount() {
	update_config '.mounts += [$m]' --argjson m "$1"
}

# requires_idmap_fs DIR skips the test when DIR's file system cannot be
# id-mapped by this kernel.
requires_idmap_fs() {
	local t
	t=$(stat -f -c %T "$1")
	case $t in
	ext2/ext3 | ext4 | xfs | btrfs | tmpfs) ;;
	*) skip "$1 is on $t, which may not support id-mapped mounts" ;;
	esac
}

@test "a uid 1000 directory id-mapped to the container's root shows owned by root" {
	requires_idmap_fs "$SRC"
	userns_config
	chown -R 1000:1000 "$SRC"
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["bind"],
		"uidMappings": [{"containerID": 1000, "hostID": 100000, "size": 1}],
		"gidMappings": [{"containerID": 1000, "hostID": 100000, "size": 1}]}'
	in_container sh -c 'stat -c %u:%g /mnt /mnt/f; cat /mnt/f
		echo new >/mnt/new && stat -c %u:%g /mnt/new
		awk "\$5 == \"/mnt\" { print \$6 }" /proc/self/mountinfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0:0 ]
	[ "${lines[1]}" = 0:0 ]
	[ "${lines[2]}" = data ]
	[ "${lines[3]}" = 0:0 ]
	[[ "${lines[4]}" == *idmapped* ]]

	# What root made through the mount belongs to 1000 on the host.
	[ "$(stat -c %u:%g "$SRC/new")" = 1000:1000 ]
	[ "$(cat "$SRC/new")" = new ]
}

@test "without the id map the same directory shows owned by nobody" {
	userns_config
	chown -R 1000:1000 "$SRC"
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["bind"]}'
	in_container stat -c %u:%g /mnt/f
	[ "$status" -eq 0 ]
	[ "$output" = 65534:65534 ]
}

@test "idmap without maps takes the container's user namespace maps" {
	requires_idmap_fs "$SRC"
	userns_config
	chown 0:0 "$SRC" "$SRC/f"
	chown 7:8 "$SRC/f"
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["bind", "idmap"]}'
	in_container sh -c 'stat -c %u:%g /mnt /mnt/f; touch /mnt/new'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0:0 ]
	[ "${lines[1]}" = 7:8 ]
	[ "$(stat -c %u:%g "$SRC/new")" = 0:0 ]
}

@test "a single file can be id-mapped" {
	requires_idmap_fs "$SRC"
	userns_config
	chown 1000:1000 "$SRC/f"
	# The container's root may not create files in the host-owned rootfs.
	touch "$BUNDLE/rootfs/etc/f"
	add_mount '{"destination": "/etc/f", "type": "bind",
		"source": "'"$SRC/f"'", "options": ["bind"],
		"uidMappings": [{"containerID": 1000, "hostID": 100000, "size": 1}],
		"gidMappings": [{"containerID": 1000, "hostID": 100000, "size": 1}]}'
	in_container sh -c 'stat -c %u:%g /etc/f; cat /etc/f'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0:0 ]
	[ "${lines[1]}" = data ]
}

@test "an id map with several ranges maps each of them" {
	requires_idmap_fs "$SRC"
	userns_config
	touch "$SRC/a" "$SRC/b" "$SRC/c"
	chown 1000:3000 "$SRC/a"
	chown 2000:3001 "$SRC/b"
	chown 5000:5000 "$SRC/c"
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["bind"],
		"uidMappings": [{"containerID": 1000, "hostID": 100000, "size": 1},
			{"containerID": 2000, "hostID": 100005, "size": 10}],
		"gidMappings": [{"containerID": 3000, "hostID": 100010, "size": 2}]}'
	in_container stat -c %u:%g /mnt/a /mnt/b /mnt/c
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0:10 ]
	[ "${lines[1]}" = 5:11 ]
	# Unmapped on disk: the overflow ids.
	[ "${lines[2]}" = 65534:65534 ]
}

@test "an id map works in a container without a user namespace" {
	requires_idmap_fs "$SRC"
	chown -R 1000:1000 "$SRC"
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["bind"],
		"uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
		"gidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}]}'
	in_container sh -c 'stat -c %u:%g /mnt/f; touch /mnt/new'
	[ "$status" -eq 0 ]
	[ "$output" = 0:0 ]
	[ "$(stat -c %u:%g "$SRC/new")" = 1000:1000 ]
}

@test "ridmap id-maps the mounts under the source, idmap only the top one" {
	requires_idmap_fs "$SRC"
	userns_config
	mkdir -p "$SRC/sub" "$BATS_TEST_TMPDIR/other"
	touch "$BATS_TEST_TMPDIR/other/g"
	mount --bind "$BATS_TEST_TMPDIR/other" "$SRC/sub"
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["rbind", "ridmap"]}'
	add_mount '{"destination": "/mnt2", "type": "bind", "source": "'"$SRC"'",
		"options": ["rbind", "idmap"]}'
	in_container stat -c %u:%g /mnt/f /mnt/sub/g /mnt2/f /mnt2/sub/g
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0:0 ]
	[ "${lines[1]}" = 0:0 ]
	[ "${lines[2]}" = 0:0 ]
	[ "${lines[3]}" = 65534:65534 ]
}

@test "an id-mapped mount keeps its other options" {
	requires_idmap_fs "$SRC"
	userns_config
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["bind", "idmap", "ro", "nosuid", "noexec"]}'
	in_container sh -c 'awk "\$5 == \"/mnt\" { print \$6 }" /proc/self/mountinfo
		touch /mnt/x'
	[ "$status" -ne 0 ]
	[[ "${lines[0]}" == ro,nosuid,*noexec*idmapped* ]]
	[[ "$output" == *"Read-only file system"* ]]
}

@test "a file system that cannot be id-mapped fails create with a clear error" {
	userns_config
	add_mount '{"destination": "/mnt", "type": "bind", "source": "/sys",
		"options": ["rbind", "idmap"]}'
	set_args true
	local before
	before=$(snapshot)
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"id-mapped mounts are not supported"*sysfs* ]]
	assert_nothing_left "$before" "$CT"
}

@test "idmap on a mount that is not a bind mount is refused" {
	userns_config
	add_mount '{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
		"options": ["idmap"]}'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"only supported on bind mounts"* ]]
	[ "$(count_state_dirs)" -eq 0 ]
}

@test "idmap without a user namespace or maps is refused" {
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["bind", "idmap"]}'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"needs both uidMappings and gidMappings"* ]]
}

@test "features reports id-mapped mounts and the idmap options" {
	run towel features
	[ "$status" -eq 0 ]
	[ "$(jq -r .linux.mountExtensions.idmap.enabled <<<"$output")" = true ]
	jq -e '.mountOptions | index("idmap") and index("ridmap")' <<<"$output"
}

@test "the container's root cannot remount read-write an id-mapped mount of a read-only source" {
	requires_idmap_fs "$SRC"
	userns_config
	mount --bind "$SRC" "$SRC"
	mount -o remount,bind,ro "$SRC"
	# Root of the container with CAP_SYS_ADMIN in its user namespace.
	update_config '.process.capabilities.bounding += ["CAP_SYS_ADMIN"]
		| .process.capabilities.effective += ["CAP_SYS_ADMIN"]
		| .process.capabilities.permitted += ["CAP_SYS_ADMIN"]'
	add_mount '{"destination": "/mnt", "type": "bind", "source": "'"$SRC"'",
		"options": ["bind", "idmap"]}'
	in_container sh -c 'mount -o remount,bind,rw /mnt && echo REMOUNTED
		touch /mnt/written && echo WROTE
		awk "\$5 == \"/mnt\" { print \$6 }" /proc/self/mountinfo'
	umount "$SRC"
	[ "$status" -eq 0 ]
	[[ "$output" != *REMOUNTED* && "$output" != *WROTE* ]]
	[[ "${lines[-1]}" == ro,*idmapped* ]]
	[ ! -e "$SRC/written" ]
}
