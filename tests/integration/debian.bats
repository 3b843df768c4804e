#!/usr/bin/env bats
# A real distribution as the root file system: Debian bookworm minbase,
# made once by debootstrap and cached (see script/mkbundle.sh).

load helpers

setup_file() {
	DEBIAN_BUNDLE=$BATS_FILE_TMPDIR/debian
	export DEBIAN_BUNDLE
	if ! "$MKBUNDLE" "$DEBIAN_BUNDLE" debian true \
		>"$BATS_FILE_TMPDIR/mkbundle.log" 2>&1; then
		touch "$BATS_FILE_TMPDIR/no-debian"
	fi
}

setup() {
	setup_common
	if [ -e "$BATS_FILE_TMPDIR/no-debian" ]; then
		skip "no Debian rootfs: $(tail -n1 "$BATS_FILE_TMPDIR/mkbundle.log")"
	fi
	# Each test has its own config.json over the one shared rootfs.
	BUNDLE=$BATS_TEST_TMPDIR/bundle
	mkdir "$BUNDLE"
	jq --arg r "$DEBIAN_BUNDLE/rootfs" '.root.path = $r' \
		"$DEBIAN_BUNDLE/config.json" >"$BUNDLE/config.json"
	export BUNDLE
}

teardown() {
	teardown_common
}

@test "debian: cat /etc/os-release shows bookworm" {
	in_container cat /etc/os-release
	[ "$status" -eq 0 ]
	[[ "$output" == *'VERSION_CODENAME=bookworm'* ]]
	[[ "$output" == *'ID=debian'* ]]
}

@test "debian: apt-get --version runs" {
	in_container apt-get --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "apt "* ]]
}

@test "debian: a dynamically linked program finds its libraries" {
	in_container sh -c 'ldd /bin/ls >/dev/null && ls /usr/lib/x86_64-linux-gnu | head -1 && echo ok'
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = ok ]
}

@test "debian: users from the rootfs /etc/passwd resolve" {
	update_config '.process.user = {"uid": 65534, "gid": 65534}'
	in_container sh -c 'id -un; echo $HOME'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = nobody ]
	[ "${lines[1]}" = /nonexistent ]
}

@test "debian: the read-only root stays unchanged" {
	update_config '.root.readonly = true'
	in_container sh -c 'touch /etc/changed'
	[ "$status" -ne 0 ]
	[ ! -e "$DEBIAN_BUNDLE/rootfs/etc/changed" ]
}
