#!/usr/bin/env bats
# The systemd cgroup driver (--systemd-cgroup) against a real systemd.
#
# The test machine has no systemd as PID 1, so one is booted: a towel
# container from a Debian rootfs with systemd and dbus, as PID 1 of its
# own PID namespace with its own D-Bus, on a cgroup2 tree (in_v2) with a
# cgroup namespace. A copy of the towel under test, run inside it with
# `exec`, then makes containers through that systemd. The tree has only
# the hugetlb controller: the limits tested are those it can hold; the
# mapping of the other resources to unit properties is unit-tested
# against a D-Bus fake (libcontainer/cgroups/systemd).

load helpers
load cgroup-helpers

# sd_rootfs_cache prints the cached Debian rootfs with systemd, making it
# once (with apt, from the machine's Debian mirror) from mkbundle's
# minbase cache.
sd_rootfs_cache() {
	local cache=${TOWEL_CACHE:-/var/cache/towel-test}/debian
	local dir=$cache/bookworm-systemd
	(
		flock 9
		[ -x "$dir/lib/systemd/systemd" ] && exit 0
		if [ ! -d "$cache/bookworm-minbase" ]; then
			"$MKBUNDLE" "$BATS_FILE_TMPDIR/seed" debian true >/dev/null ||
				exit 1
			rm -rf "$BATS_FILE_TMPDIR/seed"
		fi
		rm -rf "$dir.new"
		cp -a "$cache/bookworm-minbase" "$dir.new"
		cp /etc/resolv.conf "$dir.new/etc/resolv.conf"
		unshare -m -p -f bash -c '
			set -e
			mount -t proc proc "$1/proc"
			mount --rbind /dev "$1/dev"
			chroot "$1" sh -c "apt-get update -q &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				--no-install-recommends systemd systemd-sysv dbus"
		' sd "$dir.new" >"$BATS_FILE_TMPDIR/apt.log" 2>&1 || exit 1
		mv "$dir.new" "$dir"
	) 9>"$cache.systemd.lock" || return 1
	echo "$dir"
}

setup_file() {
	export SD_SKIP=""
	if ! unshare -m true 2>/dev/null || [ ! -d "$UNIFIED" ]; then
		SD_SKIP="no cgroup2 mount namespace possible here"
		return 0
	fi
	local rootfs
	if ! rootfs=$(sd_rootfs_cache); then
		SD_SKIP="cannot make a Debian rootfs with systemd: $(tail -n3 \
			"$BATS_FILE_TMPDIR/apt.log" 2>/dev/null)"
		return 0
	fi

	export ROOT=$BATS_FILE_TMPDIR/root BUNDLE=$BATS_FILE_TMPDIR/sd
	export SD=towel-test-$$-systemd CT=towel-test-$$-systemd
	mkdir -p "$BUNDLE"
	cp -a "$rootfs" "$BUNDLE/rootfs"
	(cd "$BUNDLE" && "$TOWEL_BINARY" spec)
	local caps
	caps=$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' '\n' |
		tr '[:lower:]' '[:upper:]' | jq -R . | jq -sc .)
	jq --argjson c "$caps" '
		.process.terminal = false | .process.args = ["/sbin/init"]
		| .process.env += ["container=towel"]
		| .process.capabilities = {bounding: $c, effective: $c,
			permitted: $c}
		| .root.readonly = false
		| .linux.namespaces |= (map(select(.type != "cgroup"))
			+ [{"type": "cgroup"}])
		| .mounts |= map(if .type == "cgroup" then .options =
			["nosuid", "noexec", "nodev", "relatime", "rw"] else . end)
		| .mounts += [
			{"destination": "/run", "type": "tmpfs", "source": "tmpfs",
			 "options": ["nosuid", "nodev", "mode=755"]},
			{"destination": "/run/lock", "type": "tmpfs",
			 "source": "tmpfs", "options": ["nosuid", "nodev", "noexec"]},
			{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
			 "options": ["nosuid", "nodev"]}]
		| .linux.maskedPaths = [] | .linux.readonlyPaths = []
		| del(.linux.seccomp)' "$BUNDLE/config.json" >"$BUNDLE/c.json"
	mv "$BUNDLE/c.json" "$BUNDLE/config.json"

	# The runtime under test and a busybox bundle for it, inside.
	install -m 0755 "$TOWEL_BINARY" "$BUNDLE/rootfs/usr/local/bin/towel"
	"$MKBUNDLE" "$BUNDLE/rootfs/b" busybox sleep 1000 >/dev/null

	# shellcheck disable=SC2016 # expanded in the namespace
	if ! in_v2 'run_detached "$SD"'; then
		SD_SKIP="systemd container does not start: $(cat \
			"$BATS_FILE_TMPDIR/$SD.err" 2>/dev/null)"
		return 0
	fi
	local i state=""
	for i in $(seq 100); do
		# shellcheck disable=SC2016 # expanded in the namespace
		state=$(in_v2 'towel exec "$SD" systemctl is-system-running' \
			2>/dev/null) || true
		case $state in running | degraded) break ;; esac
		sleep 0.2
	done
	case $state in
	running | degraded) ;;
	*)
		SD_SKIP="systemd in the container is $state"
		return 0
		;;
	esac
	# The commands run inside go to a cgroup of their own: the cgroup
	# namespace's root is systemd's, and a process in it would keep
	# controllers from being enabled below it (no internal processes).
	mkdir "$UNIFIED/$SD/towel-exec"
}

teardown_file() {
	[ -n "${SD:-}" ] || return 0
	# shellcheck disable=SC2016 # expanded in the namespace
	in_v2 'towel delete --force "$SD"' || true
	[ -d "$UNIFIED/$SD" ] &&
		find "$UNIFIED/$SD" -depth -type d -exec rmdir {} \; 2>/dev/null
	return 0
}

setup() {
	[ -z "$SD_SKIP" ] || skip "$SD_SKIP"
	ID=t$BATS_TEST_NUMBER
	export ID
}

teardown() {
	[ -z "$SD_SKIP" ] || return 0
	# shellcheck disable=SC2016 # expanded inside
	in_sd 'towel --systemd-cgroup delete --force "$ID" >/dev/null 2>&1' ||
		true
	set_inner_resources '{}'
}

# SD_PRELUDE defines run_inner for in_sd scripts: `towel run -d` of the
# inner bundle as container $ID, its stdio off bats' pipes.
# shellcheck disable=SC2016 # expanded inside
SD_PRELUDE='
run_inner() {
	towel --systemd-cgroup run -d --bundle /b "$ID" </dev/null \
		>/dev/null 2>"/tmp/$ID.err" || { cat "/tmp/$ID.err"; return 1; }
}
'

# in_sd SCRIPT runs sh SCRIPT inside the systemd container, with ID in
# its environment and run_inner defined.
in_sd() {
	# shellcheck disable=SC2016 # expanded in the namespace
	in_v2 'towel exec --cgroup /towel-exec --env ID="$ID" "$SD" \
		sh -c "$1"' "$SD_PRELUDE$1"
}

# set_inner_resources JSON sets linux.resources of the inner bundle, and
# its cgroupsPath to the second argument (none without one).
set_inner_resources() {
	local cfg=$BUNDLE/rootfs/b/config.json
	jq --argjson r "$1" --arg p "${2:-}" '.linux.resources = $r
		| if $p == "" then del(.linux.cgroupsPath)
		  else .linux.cgroupsPath = $p end' "$cfg" >"$cfg.new"
	mv "$cfg.new" "$cfg"
}

@test "systemd: run --systemd-cgroup starts a scope in system.slice that holds the container" {
	set_inner_resources '{}'
	# shellcheck disable=SC2016 # expanded inside
	run in_sd '
		run_inner || exit 1
		pid=$(towel state "$ID" | sed -n "s/.*\"pid\": *\([0-9]*\).*/\1/p")
		systemctl show -p ActiveState,Slice,ControlGroup "runc-$ID.scope"
		grep -x "$pid" "/sys/fs/cgroup/system.slice/runc-$ID.scope/cgroup.procs" &&
			echo "pid in scope"'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ActiveState=active"* ]]
	[[ "$output" == *"Slice=system.slice"* ]]
	[[ "$output" == *"ControlGroup=/system.slice/runc-$ID.scope"* ]]
	[[ "$output" == *"pid in scope"* ]]
}

@test "systemd: cgroupsPath slice:prefix:name names the scope and its slice" {
	set_inner_resources '{}' "machine.slice:towel:$ID"
	# shellcheck disable=SC2016 # expanded inside
	run in_sd '
		run_inner || exit 1
		systemctl show -p ActiveState,Slice,ControlGroup "towel-$ID.scope"'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ActiveState=active"* ]]
	[[ "$output" == *"Slice=machine.slice"* ]]
	[[ "$output" == *"ControlGroup=/machine.slice/towel-$ID.scope"* ]]
}

@test "systemd: device rules become DeviceAllow, a hugetlb limit is written to the scope's cgroup" {
	set_inner_resources '{
		"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
		"devices": [{"allow": true, "type": "c", "major": 10,
			"minor": 229, "access": "rw"}]}'
	# shellcheck disable=SC2016 # expanded inside
	run in_sd '
		run_inner || exit 1
		systemctl show -p DevicePolicy,DeviceAllow "runc-$ID.scope"
		echo "hugetlb $(cat /sys/fs/cgroup/system.slice/runc-$ID.scope/hugetlb.2MB.max)"'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"DevicePolicy=strict"* ]]
	[[ "$output" == *"DeviceAllow=/dev/char/10:229 rw"* ]]
	[[ "$output" == *"DeviceAllow=/dev/char/1:3 rwm"* ]]
	[[ "$output" == *"DeviceAllow=char-136 rwm"* ]]
	[[ "$output" == *"hugetlb 4194304"* ]]
}

@test "systemd: pause, resume and update act on the scope's cgroup" {
	set_inner_resources '{
		"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}'
	# shellcheck disable=SC2016 # expanded inside
	run in_sd '
		dir=/sys/fs/cgroup/system.slice/runc-$ID.scope
		run_inner || exit 1
		towel --systemd-cgroup pause "$ID"
		echo "paused $(grep ^frozen "$dir/cgroup.events")"
		towel --systemd-cgroup resume "$ID"
		echo "resumed $(grep ^frozen "$dir/cgroup.events")"
		echo "{\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 6291456}]}" |
			towel --systemd-cgroup update -r - "$ID"
		echo "hugetlb $(cat "$dir/hugetlb.2MB.max")"
		towel state "$ID" | grep -o "\"status\": \"[a-z]*\""'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "paused frozen 1" ]
	[ "${lines[1]}" = "resumed frozen 0" ]
	[ "${lines[2]}" = "hugetlb 6291456" ]
	[ "${lines[3]}" = '"status": "running"' ]
}

@test "systemd: delete stops the scope and removes its cgroup" {
	set_inner_resources '{}'
	# shellcheck disable=SC2016 # expanded inside
	run in_sd '
		run_inner || exit 1
		towel --systemd-cgroup delete --force "$ID"
		systemctl show -p LoadState,ActiveState "runc-$ID.scope"
		[ -d "/sys/fs/cgroup/system.slice/runc-$ID.scope" ] ||
			echo "cgroup removed"'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ActiveState=inactive"* ]]
	[[ "$output" == *"cgroup removed"* ]]
}
