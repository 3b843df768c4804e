#!/usr/bin/env bats
# podman 4.3 drives towel as its OCI runtime (`podman --runtime towel`),
# with the cgroupfs manager and storage, run root and configuration of
# its own in a temporary directory. The image is a busybox OCI archive
# made locally and loaded with `podman load`: no registry is reached.

load helpers

IMAGE=localhost/towel-busybox:latest

setup_file() {
	command -v podman >/dev/null && command -v conmon >/dev/null ||
		skip "podman is not installed (make deps-test)"
	POD=$(mktemp -d /tmp/towel-pod.XXXXXX)
	export POD
	# This machine cannot raise a hard rlimit (no CAP_SYS_RESOURCE), and
	# podman would raise nofile and nproc to its defaults: pin them below
	# the current hard limits. No network: netavark is not needed.
	local nofile nproc
	nofile=$(ulimit -Hn)
	nproc=$(ulimit -Hu)
	[ "$nofile" = unlimited ] || [ "$nofile" -gt 4096 ] && nofile=4096
	[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
	cat >"$POD/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
		netns = "none"
		log_driver = "k8s-file"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$POD/events.log"
		tmp_dir = "$POD/tmp"
		static_dir = "$POD/libpod"
		volume_path = "$POD/volumes"
	EOF
	cat >"$POD/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$POD/storage"
		runroot = "$POD/runroot"
	EOF
	"$INTEGRATION_ROOT/busybox-image.sh" "$POD/busybox.tar" "$IMAGE"
	p load -q -i "$POD/busybox.tar" >/dev/null
}

teardown_file() {
	[ -n "${POD:-}" ] || return 0
	p rm -a -f -t 0 >/dev/null 2>&1 || true
	awk -v d="$POD" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$POD"
}

setup() {
	setup_common
}

teardown() {
	p rm -a -f -t 0 >/dev/null 2>&1 || true
}

# podman_cmd prints the podman command line, with the private
# configuration and towel as the runtime, quoted for a shell.
podman_cmd() {
	printf 'CONTAINERS_CONF=%q CONTAINERS_STORAGE_CONF=%q ' \
		"$POD/containers.conf" "$POD/storage.conf"
	printf 'podman --root %q --runroot %q --runtime %q --cgroup-manager cgroupfs' \
		"$POD/storage" "$POD/runroot" "$TOWEL"
}

# p runs podman as podman_cmd says.
p() {
	eval "$(podman_cmd)" '"$@"'
}

# on_tty CMD INPUT runs the shell command CMD on a terminal, types the
# lines of INPUT into it, and prints what appeared, without carriage
# returns. A session that does not end fails after 60 s.
on_tty() {
	timeout 60 script -qec "$1" /dev/null < <(sleep 1; printf '%s\n' "$2"; sleep 2) |
		tr -d '\r'
}

@test "podman uses towel as its runtime" {
	run p info --format '{{.Host.OCIRuntime.Path}}'
	[ "$status" -eq 0 ]
	[ "$output" = "$TOWEL" ]
}

@test "podman runs a one-shot command with towel and gets its output and status" {
	run p run --rm "$IMAGE" sh -c 'echo hello from towel; exit 7'
	[ "$status" -eq 7 ]
	[ "$output" = "hello from towel" ]
}

@test "podman exec, stop and rm a detached container" {
	p run -d --name "$CT" "$IMAGE" \
		sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
	run p exec "$CT" sh -c 'echo in the container; exit 4'
	[ "$status" -eq 4 ]
	[ "$output" = "in the container" ]

	run p exec --user 1000 --workdir /tmp --env X=y "$CT" sh -c 'id -u; pwd; echo $X'
	[ "$status" -eq 0 ]
	[ "${lines[*]}" = "1000 /tmp y" ]

	run p stop -t 5 "$CT"
	[ "$status" -eq 0 ]
	[ "$(p inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$CT")" = "exited 0" ]
	p rm "$CT"
	run p ps -a -q
	[ -z "$output" ]
}

@test "podman pauses and unpauses a container through towel" {
	p run -d --name "$CT" "$IMAGE" sleep 1000
	p pause "$CT"
	[ "$(p inspect -f '{{.State.Status}}' "$CT")" = paused ]
	p unpause "$CT"
	[ "$(p inspect -f '{{.State.Status}}' "$CT")" = running ]
}

@test "a bind-mounted volume is shared with the host" {
	mkdir "$BATS_TEST_TMPDIR/vol"
	echo from-host >"$BATS_TEST_TMPDIR/vol/in"
	run p run --rm -v "$BATS_TEST_TMPDIR/vol:/data" "$IMAGE" \
		sh -c 'cat /data/in; echo from-container > /data/out'
	[ "$status" -eq 0 ]
	[ "$output" = from-host ]
	[ "$(cat "$BATS_TEST_TMPDIR/vol/out")" = from-container ]
}

@test "a memory limit from podman is in the container's cgroup" {
	p run -d --name "$CT" --memory 64m "$IMAGE" sleep 1000
	local pid dir
	pid=$(p inspect -f '{{.State.Pid}}' "$CT")
	dir=$(cgroup_dir "$pid" memory)
	if [ -e "$dir/memory.limit_in_bytes" ]; then
		[ "$(cat "$dir/memory.limit_in_bytes")" = 67108864 ]
	else
		[ "$(cat "$dir/memory.max")" = 67108864 ]
	fi
}

@test "a user-namespaced podman container runs as an unprivileged host user" {
	p run -d --name "$CT" --uidmap 0:100000:65536 --gidmap 0:100000:65536 \
		"$IMAGE" sleep 1000
	run p exec "$CT" sh -c 'cat /proc/self/uid_map; id -u'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^\ +0\ +100000\ +65536$ ]]
	[ "${lines[1]}" = 0 ]
	local pid
	pid=$(p inspect -f '{{.State.Pid}}' "$CT")
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = 100000 ]
}

@test "an interactive podman session gets a terminal and its exit status" {
	run on_tty "$(podman_cmd) run --rm -it $IMAGE sh; echo code=\$?" \
		"$(printf 'tty\necho typed-$((6 * 7))\nexit 3\n')"
	[[ "$output" == *"/dev/pts/"* ]]
	[[ "$output" == *"typed-42"* ]]
	[[ "$output" == *"code=3"* ]]
}

@test "podman exec -it into a running container gets a terminal" {
	p run -d --name "$CT" "$IMAGE" sleep 1000
	run on_tty "$(podman_cmd) exec -it $CT sh -c 'tty; exit 2'; echo code=\$?" ""
	[[ "$output" == *"/dev/pts/"* ]]
	[[ "$output" == *"code=2"* ]]
}
