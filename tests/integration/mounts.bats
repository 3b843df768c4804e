#!/usr/bin/env bats
# Mount options as runc 1.2 applies them, read back from the container's
# /proc/self/mountinfo: clearing options on bind mounts, data options on
# binds refused, recursive attributes, propagation, nosymfollow, tmpfs
# size and mode, overlay.

load helpers

setup() {
	setup_busybox
	SRC=$BATS_TEST_TMPDIR/src
	mkdir -p "$SRC/sub"
	echo data >"$SRC/f"
}

teardown() {
	teardown_common
	# The host mounts on $SRC, stacked: unmount until none is left.
	while umount -l "$SRC/sub" 2>/dev/null || umount -l "$SRC" 2>/dev/null; do
		:
	done
}

# add_mount DEST SOURCE TYPE OPTION... appends a mount to the config.
add_mount() {
	local dest=$1 src=$2 type=$3 opts
	shift 3
	opts=$(for o in "$@"; do printf '%s' "$o" | jq -Rs .; done | jq -sc .)
	update_config '.mounts += [{"destination": $d, "source": $s,
		"type": $t, "options": $o}]' \
		--arg d "$dest" --arg s "$src" --arg t "$type" --argjson o "$opts"
}

# mountinfo_in_container runs the container and keeps its mountinfo in
# $output.
mountinfo_in_container() {
	in_container cat /proc/self/mountinfo
	[ "$status" -eq 0 ]
}

# opts MOUNTPOINT prints the per-mount options of MOUNTPOINT in the
# mountinfo in $output (proc(5): field 6), with commas around them so a
# whole option can be matched as *,ro,*.
opts() {
	echo ",$(awk -v m="$1" '$5 == m { o = $6 } END { print o }' <<<"$output"),"
}

# tags MOUNTPOINT prints the optional fields of MOUNTPOINT (proc(5):
# from field 7 up to the "-"), such as shared:N, master:N, unbindable.
tags() {
	awk -v m="$1" '$5 == m {
		t = ""
		for (i = 7; $i != "-"; i++) t = t " " $i
		o = t
	} END { print o " " }' <<<"$output"
}

# host_mount_with FLAGS makes $SRC and $SRC/sub mounts of their own with
# FLAGS (mount(8) options), so that a bind of them starts with those flags.
host_mount_with() {
	mount -t tmpfs -o "$1" towel-sub "$SRC/sub"
	mount --rbind "$SRC" "$SRC"
	mount -o "remount,bind,$1" "$SRC"
}

@test "a clearing option alone on a bind mount clears that flag" {
	host_mount_with ro,nosuid,nodev,noexec,nosymfollow
	add_mount /plain "$SRC" bind bind
	add_mount /rw "$SRC" bind bind rw
	add_mount /exec "$SRC" bind bind exec
	add_mount /suid "$SRC" bind bind suid
	add_mount /dev-ok "$SRC" bind bind dev
	add_mount /symfollow "$SRC" bind bind symfollow
	mountinfo_in_container

	# Without options the bind keeps the source's flags.
	[[ "$(opts /plain)" == *,ro,*nosuid,nodev,noexec,* ]]
	[[ "$(opts /plain)" == *,nosymfollow,* ]]
	[[ "$(opts /rw)" == *,rw,* ]]
	[[ "$(opts /exec)" != *,noexec,* ]]
	[[ "$(opts /suid)" != *,nosuid,* ]]
	[[ "$(opts /dev-ok)" != *,nodev,* ]]
	[[ "$(opts /symfollow)" != *,nosymfollow,* ]]
}

@test "setting options on a bind mount sets exactly those flags" {
	add_mount /m "$SRC" bind rbind ro nosuid noexec nodev noatime
	mountinfo_in_container
	[[ "$(opts /m)" == ,ro,nosuid,nodev,noexec,noatime, ]]
}

@test "access-time options on a bind mount are applied" {
	add_mount /strict "$SRC" bind bind strictatime
	add_mount /noatime "$SRC" bind bind noatime nodiratime
	add_mount /relatime "$SRC" bind bind relatime
	mountinfo_in_container
	[[ "$(opts /strict)" != *atime* ]]
	[[ "$(opts /noatime)" == *,noatime,*nodiratime,* || "$(opts /noatime)" == *,noatime,* ]]
	[[ "$(opts /noatime)" == *nodiratime* ]]
	[[ "$(opts /relatime)" == *,relatime,* ]]
}

@test "a data option on a bind mount is refused and leaves nothing behind" {
	add_mount /m "$SRC" bind rbind size=1m
	set_args true
	local before
	before=$(snapshot)
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *size=1m*"file system data"* ]]
	assert_nothing_left "$before" "$CT"
}

@test "acl is file system data, not MS_POSIXACL: on a bind mount it is refused" {
	add_mount /m "$SRC" bind rbind acl
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *acl*"is file system data"* ]]
}

@test "an option the file system does not know fails the mount with a clear error" {
	add_mount /scratch tmpfs tmpfs nosuid no-such-option
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *tmpfs*/scratch* ]]
}

@test "recursive attributes reach every mount under a bind" {
	mount -t tmpfs towel-sub "$SRC/sub"
	add_mount /m "$SRC" bind rbind rro rnosuid rnodev rnoexec rnosymfollow rnoatime
	add_mount /top "$SRC" bind rbind ro nosuid
	mountinfo_in_container
	local m
	for m in /m /m/sub; do
		[[ "$(opts $m)" == ,ro,nosuid,nodev,noexec,*noatime* ]]
		[[ "$(opts $m)" == *,nosymfollow,* ]]
	done
	# The plain options stop at the top mount.
	[[ "$(opts /top)" == ,ro,nosuid,* ]]
	[[ "$(opts /top/sub)" == ,rw,* ]]
	[[ "$(opts /top/sub)" != *nosuid* ]]
}

@test "clearing recursive attributes clears them on every mount under a bind" {
	host_mount_with ro,nosuid,nodev,noexec,nosymfollow
	add_mount /m "$SRC" bind rbind rrw rsuid rdev rexec rsymfollow
	mountinfo_in_container
	local m
	for m in /m /m/sub; do
		[[ "$(opts $m)" == ,rw,* ]]
		[[ "$(opts $m)" != *nosuid* ]]
		[[ "$(opts $m)" != *nodev* ]]
		[[ "$(opts $m)" != *noexec* ]]
		[[ "$(opts $m)" != *nosymfollow* ]]
	done
}

@test "recursive access-time attributes reach every mount under a bind" {
	mount -t tmpfs -o noatime towel-sub "$SRC/sub"
	add_mount /strict "$SRC" bind rbind rstrictatime
	add_mount /nodir "$SRC" bind rbind rnodiratime rrelatime
	mountinfo_in_container
	[[ "$(opts /strict)" != *atime* ]]
	[[ "$(opts /strict/sub)" != *atime* ]]
	[[ "$(opts /nodir)" == *,relatime,* ]]
	[[ "$(opts /nodir/sub)" == *,nodiratime,*relatime* ||
		"$(opts /nodir/sub)" == *relatime*nodiratime* ]]
}

@test "propagation options apply to the bind, the r- ones to every mount under it" {
	mount -t tmpfs towel-sub "$SRC/sub"
	mount --rbind "$SRC" "$SRC"
	mount --make-rshared "$SRC"
	add_mount /private "$SRC" bind rbind private
	add_mount /rprivate "$SRC" bind rbind rprivate
	add_mount /shared "$SRC" bind rbind rprivate shared
	add_mount /rshared "$SRC" bind rbind rshared
	add_mount /slave "$SRC" bind rbind slave
	add_mount /unbindable "$SRC" bind rbind rprivate unbindable
	add_mount /runbindable "$SRC" bind rbind runbindable
	mountinfo_in_container

	# The host's mount is shared, and the container's root a slave of
	# it: a plain bind starts as a slave.
	[[ "$(tags /private)" != *shared:* && "$(tags /private)" != *master:* ]]
	[[ "$(tags /private/sub)" == *master:* ]]
	[[ "$(tags /rprivate)" == " " && "$(tags /rprivate/sub)" == " " ]]
	[[ "$(tags /shared)" == *shared:* ]]
	[[ "$(tags /shared/sub)" != *shared:* ]]
	[[ "$(tags /rshared)" == *shared:* && "$(tags /rshared/sub)" == *shared:* ]]
	[[ "$(tags /slave)" == *master:* && "$(tags /slave)" != *shared:* ]]
	[[ "$(tags /unbindable)" == *unbindable* ]]
	[[ "$(tags /unbindable/sub)" != *unbindable* ]]
	[[ "$(tags /runbindable)" == *unbindable* ]]
	[[ "$(tags /runbindable/sub)" == *unbindable* ]]
}

@test "rootfsPropagation shared makes the container's root shared" {
	update_config '.linux.rootfsPropagation = "shared"'
	mountinfo_in_container
	[[ "$(tags /)" == *shared:* ]]
}

@test "nosymfollow keeps symlinks on the mount from being followed" {
	ln -s f "$SRC/link"
	add_mount /m "$SRC" bind rbind nosymfollow
	in_container sh -c 'readlink /m/link; cat /m/f; cat /m/link'
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = f ]
	[ "${lines[1]}" = data ]
	[[ "$output" == *"can't open '/m/link': Too many levels of symbolic links"* ]]
}

@test "tmpfs size and mode are applied" {
	add_mount /scratch tmpfs tmpfs size=2m mode=1750 nosuid
	mountinfo_in_container
	local line
	line=$(awk '$5 == "/scratch"' <<<"$output")
	[[ "$line" == *" - tmpfs tmpfs "*size=2048k* ]]
	[[ "$line" == *mode=1750* ]]
	[[ "$(opts /scratch)" == *,nosuid,* ]]
}

@test "a tmpfs takes the mode of the directory it covers unless mode= says otherwise" {
	mkdir -m 0711 "$BUNDLE/rootfs/covered" "$BUNDLE/rootfs/overridden"
	add_mount /covered tmpfs tmpfs
	add_mount /overridden tmpfs tmpfs mode=0700
	in_container stat -c %a /covered /overridden
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 711 ]
	[ "${lines[1]}" = 700 ]
}

@test "a read-only tmpfs is read-only, and tmpcopyup fills it first" {
	mkdir -p "$BUNDLE/rootfs/opt/app"
	echo kept >"$BUNDLE/rootfs/opt/app/file"
	add_mount /opt/app tmpfs tmpfs ro tmpcopyup
	in_container sh -c 'cat /opt/app/file; touch /opt/app/new'
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = kept ]
	[[ "$output" == *"Read-only file system"* ]]
}

@test "an overlay mount merges its layers and writes to the upper one" {
	local d=$BATS_TEST_TMPDIR/ovl
	mkdir -p "$d/lower" "$d/upper" "$d/work"
	echo lower >"$d/lower/l"
	echo shadowed >"$d/lower/both"
	echo upper >"$d/upper/both"
	update_config '.root.readonly = false'
	add_mount /merged overlay overlay \
		"lowerdir=$d/lower" "upperdir=$d/upper" "workdir=$d/work" nodev
	in_container sh -c 'cat /merged/l /merged/both; echo new >/merged/n
		awk "\$5 == \"/merged\" { print \$6, \$9 }" /proc/self/mountinfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = lower ]
	[ "${lines[1]}" = upper ]
	[[ "${lines[2]}" == *nodev*" overlay" ]]
	[ "$(cat "$d/upper/n")" = new ]
	[ ! -e "$d/lower/n" ]
}
