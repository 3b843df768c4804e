#!/usr/bin/env bats
# The container's file system: root, mounts, masked and read-only paths,
# devices and sysctls.

load helpers

setup() {
	setup_busybox
}

teardown() {
	teardown_common
}

# mount_opts MOUNTPOINT prints the per-mount options of MOUNTPOINT from
# the mountinfo in $output (proc(5): field 5 is the mount point, 6 the
# options).
mount_opts() {
	awk -v m="$1" '$5 == m { o = $6 } END { print o }' <<<"$output"
}

@test "a read-only root cannot be written" {
	update_config '.root.readonly = true'
	in_container touch /newfile
	[ "$status" -ne 0 ]
	[[ "$output" == *"Read-only file system"* ]]
	[ ! -e "$BUNDLE/rootfs/newfile" ]
}

@test "a writable root can be written" {
	update_config '.root.readonly = false'
	in_container touch /newfile
	[ "$status" -eq 0 ]
	[ -e "$BUNDLE/rootfs/newfile" ]
}

@test "the root is the bundle's rootfs, pivoted into" {
	echo marker >"$BUNDLE/rootfs/etc/towel-marker"
	in_container cat /etc/towel-marker
	[ "$status" -eq 0 ]
	[ "$output" = marker ]

	# The host's root is not reachable through ..
	in_container ls /../../..
	[[ "$output" != *bats* ]]
}

@test "the default mounts are there with their options" {
	in_container cat /proc/self/mountinfo
	[ "$status" -eq 0 ]
	local info=$output

	grep -qE '^([^ ]+ ){4}/proc [^ ]+( [^ ]+)* - proc ' <<<"$info"
	grep -qE '^([^ ]+ ){4}/dev [^ ]+( [^ ]+)* - tmpfs ' <<<"$info"
	grep -qE '^([^ ]+ ){4}/dev/pts [^ ]+( [^ ]+)* - devpts ' <<<"$info"
	grep -qE '^([^ ]+ ){4}/dev/shm [^ ]+( [^ ]+)* - tmpfs ' <<<"$info"
	grep -qE '^([^ ]+ ){4}/dev/mqueue [^ ]+( [^ ]+)* - mqueue ' <<<"$info"
	grep -qE '^([^ ]+ ){4}/sys [^ ]+( [^ ]+)* - sysfs ' <<<"$info"

	[[ "$(mount_opts /sys)" == ro,* ]]
	[[ "$(mount_opts /dev/shm)" == *nosuid*nodev*noexec* ]]
}

@test "a tmpfs mount gets its options" {
	update_config '.mounts += [{"destination": "/scratch", "type": "tmpfs",
		"source": "tmpfs", "options": ["nosuid", "nodev", "size=1m", "mode=700"]}]'
	in_container sh -c 'grep " /scratch " /proc/self/mountinfo; stat -c %a /scratch; touch /scratch/f'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *" - tmpfs "*size=1024k* ]]
	[ "${lines[1]}" = 700 ]
}

@test "a bind mount shows the host directory" {
	mkdir "$BATS_TEST_TMPDIR/shared"
	echo from-host >"$BATS_TEST_TMPDIR/shared/file"
	update_config '.root.readonly = false | .mounts += [{"destination": "/shared",
		"type": "bind", "source": $src, "options": ["rbind"]}]' \
		--arg src "$BATS_TEST_TMPDIR/shared"
	in_container sh -c 'cat /shared/file; echo from-container >/shared/back'
	[ "$status" -eq 0 ]
	[ "$output" = from-host ]
	[ "$(cat "$BATS_TEST_TMPDIR/shared/back")" = from-container ]
}

@test "a read-only bind mount cannot be written" {
	mkdir "$BATS_TEST_TMPDIR/shared"
	echo from-host >"$BATS_TEST_TMPDIR/shared/file"
	update_config '.mounts += [{"destination": "/shared", "type": "bind",
		"source": $src, "options": ["rbind", "ro"]}]' \
		--arg src "$BATS_TEST_TMPDIR/shared"
	in_container sh -c 'cat /shared/file; touch /shared/new'
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = from-host ]
	[[ "$output" == *"Read-only file system"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/shared/new" ]
	# The host's directory stays writable.
	touch "$BATS_TEST_TMPDIR/shared/host-can"
}

@test "a bind mount of a file works" {
	echo single >"$BATS_TEST_TMPDIR/one-file"
	update_config '.mounts += [{"destination": "/etc/one-file", "type": "bind",
		"source": $src, "options": ["bind", "ro"]}]' \
		--arg src "$BATS_TEST_TMPDIR/one-file"
	in_container cat /etc/one-file
	[ "$status" -eq 0 ]
	[ "$output" = single ]
}

@test "bind mount flags are applied, also the ones that clear" {
	# runc 1.2: "exec", "suid" and "dev" on a bind mount clear those flags
	# even when the source mount has them set; runc 1.1 ignored them.
	mkdir "$BATS_TEST_TMPDIR/src"
	mount -t tmpfs -o nosuid,noexec,nodev towel-test "$BATS_TEST_TMPDIR/src"
	update_config '.mounts += [{"destination": "/b", "type": "bind",
		"source": $src, "options": ["rbind"]},
		{"destination": "/c", "type": "bind",
		"source": $src, "options": ["rbind", "exec", "suid", "dev"]},
		{"destination": "/d", "type": "bind",
		"source": "/tmp", "options": ["rbind", "noexec", "nosuid"]}]' \
		--arg src "$BATS_TEST_TMPDIR/src"
	in_container cat /proc/self/mountinfo
	umount "$BATS_TEST_TMPDIR/src"
	[ "$status" -eq 0 ]

	[[ "$(mount_opts /b)" == *nosuid*nodev*noexec* ]]
	[[ "$(mount_opts /c)" != *noexec* ]]
	[[ "$(mount_opts /c)" != *nosuid* ]]
	[[ "$(mount_opts /c)" != *nodev* ]]
	[[ "$(mount_opts /d)" == *nosuid*noexec* ]]
}

@test "mounts are made in config order, later ones on top" {
	mkdir "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	echo a >"$BATS_TEST_TMPDIR/a/which"
	echo b >"$BATS_TEST_TMPDIR/b/which"
	update_config '.mounts += [
		{"destination": "/m", "type": "bind", "source": $a, "options": ["rbind"]},
		{"destination": "/m", "type": "bind", "source": $b, "options": ["rbind"]}]' \
		--arg a "$BATS_TEST_TMPDIR/a" --arg b "$BATS_TEST_TMPDIR/b"
	in_container cat /m/which
	[ "$status" -eq 0 ]
	[ "$output" = b ]
}

@test "no container mount shows up on the host" {
	local before
	before=$(count_mounts)
	update_config '.mounts += [{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs"}]'
	set_args sleep 100
	run_detached "$CT"

	[ "$(count_mounts)" -eq "$before" ]
	! grep -q "$BUNDLE" /proc/self/mountinfo
}

@test "masked files read empty and masked directories are empty" {
	# Which of the default masked paths exist depends on the kernel.
	[ -e /proc/keys ] && [ -d /sys/firmware ] ||
		skip "host has no /proc/keys or /sys/firmware"
	in_container sh -c 'wc -c </proc/keys; ls -A /sys/firmware | wc -l'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
}

@test "a masked path the config adds is masked" {
	update_config '.linux.maskedPaths += ["/proc/cpuinfo", "/etc"]'
	in_container sh -c 'wc -c </proc/cpuinfo; ls -A /etc | wc -l'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
}

@test "read-only paths are mounted read-only" {
	in_container cat /proc/self/mountinfo
	[ "$status" -eq 0 ]
	local p
	for p in /proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger; do
		[ -e "$p" ] || continue
		[[ "$(mount_opts "$p")" == ro* ]]
	done
}

@test "a read-only path the config adds cannot be written" {
	update_config '.root.readonly = false | .linux.readonlyPaths += ["/var"]'
	in_container touch /var/tmp/x
	[ "$status" -ne 0 ]
	[[ "$output" == *"Read-only file system"* ]]
}

@test "the default devices exist and work" {
	in_container sh -c '
		for d in null zero full random urandom tty; do
			[ -c /dev/$d ] || echo "no /dev/$d"
		done
		echo discard >/dev/null || echo "cannot write /dev/null"
		[ "$(head -c 4 /dev/zero | wc -c)" = 4 ] || echo "cannot read /dev/zero"
		[ -L /dev/ptmx ] || [ -c /dev/ptmx ] || echo "no /dev/ptmx"
		[ -L /dev/fd ] || echo "no /dev/fd"
		[ -L /dev/stdin ] || echo "no /dev/stdin"
		echo done'
	[ "$status" -eq 0 ]
	[ "$output" = done ]
}

@test "the default devices have the host's numbers" {
	in_container stat -c '%n %t:%T' /dev/null /dev/zero /dev/urandom
	[ "$status" -eq 0 ]
	[ "$output" = "$(stat -c '%n %t:%T' /dev/null /dev/zero /dev/urandom)" ]
}

@test "a device the config lists is created and allowed" {
	update_config '.linux.devices += [{"path": "/dev/towelnull", "type": "c",
		"major": 1, "minor": 3, "fileMode": 438, "uid": 0, "gid": 0}]
		| .linux.resources.devices += [{"allow": true, "type": "c",
		"major": 1, "minor": 3, "access": "rwm"}]'
	in_container sh -c 'stat -c "%t:%T %a" /dev/towelnull; echo x >/dev/towelnull'
	[ "$status" -eq 0 ]
	[ "$output" = "1:3 666" ]
}

@test "a device node that the cgroup does not allow cannot be opened" {
	# /dev/kmsg (1:11) is neither a default device nor allowed.
	update_config '.linux.devices += [{"path": "/dev/kmsg", "type": "c",
		"major": 1, "minor": 11}]
		| .linux.resources.devices += [{"allow": false, "type": "c",
		"major": 1, "minor": 11, "access": "rwm"}]'
	in_container head -c1 /dev/kmsg
	[ "$status" -ne 0 ]
	[[ "$output" == *"not permitted"* ]]
}

@test "sysctls in the container's namespaces are set" {
	local msgmax forward
	msgmax=$(cat /proc/sys/kernel/msgmax)
	forward=$(cat /proc/sys/net/ipv4/ip_forward)
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}'
	in_container sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = 4096 ]
	# The host's own values are not touched.
	[ "$(cat /proc/sys/kernel/msgmax)" = "$msgmax" ]
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$forward" ]
}

@test "a sysctl outside the container's namespaces is refused" {
	local before
	before=$(cat /proc/sys/vm/swappiness)
	update_config '.linux.sysctl = {"vm.swappiness": "7"}'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT"
	[ "$status" -ne 0 ]
	[ "$(cat /proc/sys/vm/swappiness)" = "$before" ]
}
