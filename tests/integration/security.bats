#!/usr/bin/env bats
# Attacks on the runtime from the container, one per class runc has had a
# CVE for. Each test makes the attack and checks that the host file or the
# runtime binary is unchanged, and that the command failed with a clear
# error or the attack was harmless.

load helpers

setup() {
	setup_busybox
	T=$BATS_TEST_TMPDIR
	export T
}

teardown() {
	# A memfd-bind mount cannot be removed by umount(8) on its path.
	if [ -n "${MB_PATH:-}" ]; then
		"$MB" --cleanup "$MB_PATH" >/dev/null 2>&1 || true
	fi
	teardown_common
}

# sum_of FILE prints FILE's sha256.
sum_of() {
	sha256sum "$1" | cut -d' ' -f1
}

# start_sleeper runs $CT detached with `sleep 1000` and prints nothing.
start_sleeper() {
	set_args sleep 1000
	run_detached "$CT"
}

# add_libs_of BIN copies the shared libraries and loader BIN needs into
# the bundle's rootfs, so that the container can run a copy of BIN: the
# exploit of CVE-2019-5736 needs the runtime's binary to start inside.
add_libs_of() {
	local lib
	for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
		cp --parents -L "$lib" "$BUNDLE/rootfs/"
	done
}

# ns_pid HOSTPID prints the pid of HOSTPID in its innermost PID namespace.
ns_pid() {
	awk '$1 == "NSpid:" { print $NF }' "/proc/$1/status"
}

# ---------------------------------------------------------------------------
# The binary the container can reach through /proc/PID/exe (CVE-2019-5736).

# wait_for_result prints $T/result once it is there (up to 20 s).
wait_for_result() {
	local i
	for i in $(seq 200); do
		[ -s "$T/result" ] && break
		sleep 0.1
	done
	cat "$T/result"
}

# The attacker keeps a handle on init's /proc/PID/exe and writes through it
# as soon as no process runs the file any more (until then it is "busy"),
# as the exploit of CVE-2019-5736 does.
@test "a process in the container holding init's /proc/PID/exe cannot write the runtime, even after towel exits" {
	local before
	before=$(sum_of "$TOWEL")
	# A createContainer hook runs in the container's namespaces while
	# init waits for it; it leaves a holder behind in the container.
	cat >"$T/attack.sh" <<-'EOF'
		pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
		readlink "/proc/$pid/exe" >"$T/exe-link"
		# The result files are opened now: after pivot_root the holder
		# no longer sees the host's paths.
		(
			exec 3<"/proc/$pid/exe" 4>"$T/result" 5>"$T/write.err"
			i=0
			while [ $i -lt 100 ]; do
				if { echo pwned >>/proc/self/fd/3; } 2>&5; then
					echo WRITTEN >&4
					exit
				fi
				i=$((i + 1))
				sleep 0.1
			done
			echo REFUSED >&4
		) </dev/null >/dev/null 2>&1 &
	EOF
	update_config '.hooks.createContainer = [{"path": "/bin/sh",
		"args": ["sh", "-c", ". \($t)/attack.sh"], "env": ["T=\($t)"]}]' \
		--arg t "$T"
	start_sleeper
	[ "$(wait_for_result)" = REFUSED ]
	cat "$T/write.err"
	grep -Eq "Read-only file system|Operation not permitted" "$T/write.err"
	[ "$(cat "$T/exe-link")" != "$TOWEL" ]
	[ "$(sum_of "$TOWEL")" = "$before" ]
}

# The exploit of CVE-2019-5736: the container's program is /proc/self/exe,
# so that it is the runtime's own binary running inside the container; a
# second process opens it and writes once the first has exited. Here the
# binary is exec'd by `exec`, and blocks reading a fifo as `towel init`.
@test "an exec of /proc/self/exe runs a copy the container cannot write, even after it exits" {
	local before pid inner
	before=$(sum_of "$TOWEL")
	add_libs_of "$TOWEL"
	start_sleeper
	mkfifo "$T/stdin"
	exec 8<>"$T/stdin"
	towel exec -d --pid-file "$T/pid" --env _TOWEL_INITPIPE=0 "$CT" \
		/proc/self/exe init <"$T/stdin" >/dev/null 2>&1
	pid=$(cat "$T/pid")
	# The process is the runtime's binary, but not the host's file; it
	# waits in the C stage for a bootstrap message on its stdin.
	sleep 0.5
	[ -e "/proc/$pid/exe" ]
	[ "$(readlink "/proc/$pid/exe")" != "$TOWEL" ]
	cmp "/proc/$pid/exe" "$TOWEL"
	inner=$(ns_pid "$pid")

	run towel exec "$CT" sh -c "echo pwned >>/proc/$inner/exe"
	echo "$output"
	[ "$status" -ne 0 ]

	# Hold it, let it exit, then write through the held fd.
	run towel exec "$CT" sh -c "
		exec 3</proc/$inner/exe
		kill -9 $inner
		while [ -e /proc/$inner/exe ]; do sleep 0.1; done
		echo pwned >>/proc/self/fd/3 && echo WRITTEN"
	exec 8>&-
	echo "$output"
	[[ "$output" != *WRITTEN* ]]
	[[ "$output" == *"Read-only file system"* ||
		"$output" == *"Operation not permitted"* ]]
	[ "$(sum_of "$TOWEL")" = "$before" ]
}

# The container's program is /proc/self/exe, the runtime's own binary
# started inside the container. Without a PID namespace the attacker can
# outlive it, and writes once it has exited.
@test "the container's program as /proc/self/exe is a copy the container cannot write, even after it exits" {
	local before pid
	before=$(sum_of "$TOWEL")
	add_libs_of "$TOWEL"
	update_config '.process.env += ["_TOWEL_INITPIPE=0"] |
		.linux.namespaces |= map(select(.type != "pid")) |
		.root.readonly = false'
	mkfifo "$T/stdin"
	exec 8<>"$T/stdin"
	set_args /proc/self/exe init
	towel run -d --bundle "$BUNDLE" "$CT" <"$T/stdin" >/dev/null 2>&1
	pid=$(pid_of "$CT")
	sleep 0.5
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "/proc/self/exe init " ]
	cmp "/proc/$pid/exe" "$TOWEL"

	towel exec -d "$CT" sh -c "
		exec 3</proc/$pid/exe
		while [ -e /proc/$pid/exe ]; do sleep 0.1; done
		if { echo pwned >>/proc/self/fd/3; } 2>/tmp/write.err; then
			echo WRITTEN >/tmp/result
		else
			echo REFUSED >/tmp/result
		fi" </dev/null >/dev/null 2>&1
	sleep 0.5
	kill -9 "$pid"
	for _ in $(seq 100); do
		[ -s "$BUNDLE/rootfs/tmp/result" ] && break
		sleep 0.1
	done
	cat "$BUNDLE/rootfs/tmp/write.err"
	exec 8>&-
	[ "$(cat "$BUNDLE/rootfs/tmp/result")" = REFUSED ]
	grep -Eq "Read-only file system|Operation not permitted" "$BUNDLE/rootfs/tmp/write.err"
	[ "$(sum_of "$TOWEL")" = "$before" ]
}

@test "init runs from a read-only overlay without a copy, and --debug says so" {
	[ "$(id -u)" = 0 ] || skip "the overlay needs root"
	set_args true
	run towel --debug run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"init binary: read-only overlayfs"* ]]
	# The overlay is never mounted where anyone could see it.
	! grep -q " - overlay overlay .*lowerdir=/proc/self/fd" /proc/self/mountinfo
}

# ---------------------------------------------------------------------------
# The dmz stub (RUNC_DMZ=true).

# caps_and_nofile prints the capability sets and the open files limit of
# the container's process.
caps_and_nofile() {
	set_args sh -c 'grep ^Cap /proc/self/status; ulimit -n; cat /proc/$$/cmdline | tr "\0" " "'
}

@test "RUNC_DMZ=true execs the process through the stub, with the same argv, capabilities and limits" {
	update_config '.process.user = {"uid": 1000, "gid": 1000} |
		.process.capabilities.ambient = ["CAP_NET_BIND_SERVICE"] |
		.process.capabilities.inheritable = ["CAP_NET_BIND_SERVICE"] |
		.process.rlimits = []'
	caps_and_nofile
	local direct
	direct=$(ulimit -Sn 1024 && towel run --bundle "$BUNDLE" "$CT" </dev/null)
	run env RUNC_DMZ=true bash -c 'ulimit -Sn 1024 && "$0" --root "$1" --debug run --bundle "$2" "$3" </dev/null' \
		"$TOWEL" "$ROOT" "$BUNDLE" "$CT-dmz"
	echo "$output"
	[ "$status" -eq 0 ]
	if [[ "$output" == *"built without the dmz stub"* ]]; then
		skip "this towel has no dmz stub (build it with make)"
	fi
	[[ "$output" == *"exec'd through the dmz stub"* ]]
	[ "$(grep -v level= <<<"$output")" = "$direct" ]
	[[ "$direct" == *"1024"* ]]
	[[ "$direct" == *"sh -c grep ^Cap"* ]]
}

@test "RUNC_DMZ=true: an entrypoint /proc/self/exe reaches the sealed stub, not the runtime" {
	local before
	before=$(sum_of "$TOWEL")
	set_args /proc/self/exe
	run -127 env RUNC_DMZ=true "$TOWEL" --root "$ROOT" --debug run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output"
	[[ "$output" == *"exec'd through the dmz stub"* ]] || skip "no dmz stub in this build"
	# The stub runs itself with one argument less each time, then
	# finds nothing to run.
	[ "$status" -eq 127 ]
	[[ "$output" == *"towel-dmz: no program to run"* ]]
	[ "$(sum_of "$TOWEL")" = "$before" ]
}

@test "RUNC_DMZ=true in config.json has no effect, nor does another value" {
	update_config '.process.env += ["RUNC_DMZ=true"]'
	set_args true
	run towel --debug run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" != *dmz* ]]
	run env RUNC_DMZ=yes "$TOWEL" --root "$ROOT" --debug run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" != *dmz* ]]
}

@test "RUNC_DMZ=true with exec goes through the stub too" {
	start_sleeper
	run env RUNC_DMZ=true "$TOWEL" --root "$ROOT" --debug exec "$CT" sh -c 'echo $0' </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"exec'd through the dmz stub"* ]] || skip "no dmz stub in this build"
	# init's log lines and the output of the process may interleave.
	grep -qx sh <<<"$output"
}

# ---------------------------------------------------------------------------
# contrib/cmd/memfd-bind.

# memfd_bind prints the path of a memfd-bind binary: MEMFD_BIND, else one
# built once per run.
memfd_bind() {
	local bin=${MEMFD_BIND:-$BATS_RUN_TMPDIR/memfd-bind} go
	if [ ! -x "$bin" ]; then
		go=$(command -v go || echo /usr/local/go/bin/go)
		(cd "$REPO_ROOT" && "$go" build -o "$bin" ./contrib/cmd/memfd-bind) ||
			return 1
	fi
	echo "$bin"
}

@test "memfd-bind puts a sealed copy over the binary, towel then uses it as is, SIGTERM and --cleanup remove it" {
	local mb bin before pid
	mb=$(memfd_bind) || skip "cannot build memfd-bind"
	mkdir "$T/bin"
	bin=$T/bin/towel
	MB=$mb MB_PATH=$bin
	cp "$TOWEL" "$bin"
	before=$(sum_of "$bin")

	"$mb" --debug "$bin" >"$T/mb.log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		grep -q "now runs from a sealed memfd" "$T/mb.log" && break
		sleep 0.1
	done
	cat "$T/mb.log"
	[ "$(readlink "$bin")" = "/memfd:towel (deleted)" ]

	set_args true
	run "$bin" --root "$ROOT" --debug run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"init binary: sealed memfd (memfd-bind)"* ]]

	# Neither the copy nor, through it, the file can be written.
	run bash -c "echo pwned >>'$bin'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not permitted"* ]]

	kill -TERM "$pid"
	wait "$pid"
	! grep -q " $bin " /proc/self/mountinfo
	[ "$(sum_of "$bin")" = "$before" ]

	# A daemon killed outright leaves a dead mount; --cleanup removes it.
	"$mb" "$bin" >"$T/mb2.log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		grep -q "now runs from a sealed memfd" "$T/mb2.log" && break
		sleep 0.1
	done
	kill -KILL "$pid"
	wait "$pid" || true
	run -127 "$bin" --version
	run "$mb" --cleanup "$bin"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed 1 memfd-bind mount"* ]]
	[ "$(sum_of "$bin")" = "$before" ]
	"$bin" --version
}

@test "memfd-bind --cleanup leaves other mounts on the path alone" {
	local mb
	mb=$(memfd_bind) || skip "cannot build memfd-bind"
	echo original >"$T/file"
	echo other >"$T/other"
	mount --bind "$T/other" "$T/file"
	run "$mb" --cleanup "$T/file"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/file")" = other ]
	umount "$T/file"
}

# ---------------------------------------------------------------------------
# Leaked fds and the cwd (CVE-2024-21626).

# fds_of_ls prints the fd numbers `ls -l /proc/self/fd` lists in FILE,
# but the one ls reads the directory with.
fds_of_ls() {
	awk '$10 == "->" && $11 !~ /^\/proc\/[0-9]+\/fd$/ { print $9 }' "$1" | xargs
}

@test "the process has only its stdio open, whatever the caller leaks, with run and exec" {
	mkdir "$T/hostdir"
	set_args ls -l /proc/self/fd
	# fds 7 to 9 are open, without close-on-exec, in towel's caller.
	towel run --bundle "$BUNDLE" "$CT" 7<"$T/hostdir" 8<"$TOWEL" 9>"$T/w" \
		</dev/null >"$T/run.ls" 2>&1
	cat "$T/run.ls"
	[ "$(fds_of_ls "$T/run.ls")" = "0 1 2" ]

	start_sleeper
	towel exec "$CT" ls -l /proc/self/fd 7<"$T/hostdir" 8<"$TOWEL" \
		</dev/null >"$T/exec.ls" 2>&1
	cat "$T/exec.ls"
	[ "$(fds_of_ls "$T/exec.ls")" = "0 1 2" ]
}

@test "init itself holds no fd that reaches the host: cwd /proc/self/fd/N fails for every N" {
	local n
	echo marker >"$BUNDLE/rootfs/marker"
	for n in $(seq 3 15); do
		update_config '.process.cwd = $c' --arg c "/proc/self/fd/$n"
		set_args sh -c 'pwd; ls'
		run towel run --bundle "$BUNDLE" "$CT" </dev/null
		echo "fd $n: $status $output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"chdir to cwd"* || "$output" == *"create cwd"* ||
			"$output" == *"outside of the container's root"* ]]
	done
}

@test "cwd through a leaked host directory fails cleanly, with run and with exec" {
	mkdir "$T/hostdir"
	echo secret >"$T/hostdir/secret"
	update_config '.process.cwd = "/proc/self/fd/7"'
	set_args cat secret
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" 7<"$T/hostdir" </dev/null
	echo "$output $stderr"
	[ "$status" -ne 0 ]
	[[ "$output" != *secret* ]]
	[[ "$stderr" == *"outside of the container's root"* || "$stderr" == *"chdir to cwd"* ]]

	# Passed on purpose with --preserve-fds, it is still refused as cwd.
	update_config '.process.cwd = "/proc/self/fd/3"'
	run --separate-stderr towel run --preserve-fds 1 --bundle "$BUNDLE" "$CT" \
		3<"$T/hostdir" </dev/null
	[ "$status" -ne 0 ]
	[[ "$output" != *secret* ]]
	[[ "$stderr" == *"outside of the container's root"* ]]

	update_config '.process.cwd = "/"'
	start_sleeper
	run --separate-stderr towel exec --cwd /proc/self/fd/3 --preserve-fds 1 \
		"$CT" cat secret 3<"$T/hostdir"
	echo "$output $stderr"
	[ "$status" -ne 0 ]
	[[ "$output" != *secret* ]]
	[[ "$stderr" == *"outside of the container's root"* ]]
	[ "$(status_of "$CT")" = running ]
}

# ---------------------------------------------------------------------------
# Mount targets under a race in a shared volume (CVE-2021-30465).

# build_racer compiles a static program that swaps two names with
# renameat2(RENAME_EXCHANGE) as fast as it can, for $1 seconds.
build_racer() {
	local racer=$BATS_RUN_TMPDIR/racer
	if [ ! -x "$racer" ]; then
		cat >"$BATS_RUN_TMPDIR/racer.c" <<-'EOF'
			#define _GNU_SOURCE
			#include <fcntl.h>
			#include <stdio.h>
			#include <stdlib.h>
			#include <unistd.h>
			int main(int argc, char **argv)
			{
				unsigned long n = 0;
				if (argc != 4)
					return 2;
				alarm(atoi(argv[3]));
				for (;;)
					if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2],
						      RENAME_EXCHANGE) == 0 && ++n % 100000 == 0)
						fprintf(stderr, "%lu swaps\n", n);
			}
		EOF
		gcc -static -O2 -o "$racer.new" "$BATS_RUN_TMPDIR/racer.c" || return 1
		mv "$racer.new" "$racer"
	fi
	echo "$racer"
}

# mountpoints FILE prints the mount points of a mountinfo file.
mountpoints() {
	awk '{ print $5 }' "$1" | sort
}

@test "a container swapping a volume directory for a symlink cannot redirect another container's mount out of its rootfs" {
	local racer victim i escaped=0 failed=0 ok=0 target
	racer=$(build_racer) || skip "cannot build the racer (gcc -static)"
	mkdir -p "$T/vol/mnt" "$T/hostdir" "$T/src"
	echo from-src >"$T/src/marker"
	target=$T/hostdir
	ln -s "$target" "$T/vol/link"

	# The attacker: a container with the volume, swapping mnt and link.
	cp "$racer" "$BUNDLE/rootfs/bin/racer"
	update_config '.mounts += [{"destination": "/vol", "type": "bind",
		"source": $v, "options": ["rbind"]}]' --arg v "$T/vol"
	set_args /bin/racer /vol/mnt /vol/link 60
	run_detached "$CT"
	wait_for_status "$CT" running

	# The victim: the same volume, and a bind mount below it, with a
	# createContainer hook that saves the mount table it sees before
	# pivot_root.
	victim=$T/victim
	cp -a "$BUNDLE" "$victim"
	jq --arg v "$T/vol" --arg s "$T/src" --arg t "$T" '
		.mounts |= map(select(.destination != "/vol")) |
		.mounts += [{"destination": "/vol", "type": "bind", "source": $v,
				"options": ["rbind"]},
			{"destination": "/vol/mnt", "type": "bind", "source": $s,
				"options": ["bind"]}] |
		.process.args = ["cat", "/vol/mnt/marker"] |
		.hooks.createContainer = [{"path": "/bin/sh", "args": ["sh", "-c",
			"cat /proc/self/mountinfo >\($t)/mi.$(cat \($t)/iter)"]}]' \
		"$BUNDLE/config.json" >"$victim/config.json"

	mountpoints /proc/self/mountinfo | grep -Fx -e "$target" -e / >"$T/host-points"
	for i in $(seq 40); do
		echo "$i" >"$T/iter"
		if towel run --bundle "$victim" "$CT2" </dev/null >/dev/null 2>&1; then
			ok=$((ok + 1))
		else
			failed=$((failed + 1))
		fi
		towel delete -f "$CT2" >/dev/null 2>&1 || true
		[ -e "$T/mi.$i" ] || continue
		# Every mount outside the victim's rootfs must be one the host
		# has: none on the symlink's host target, no extra one on "/".
		if [ "$(mountpoints "$T/mi.$i" | grep -Fx -e "$target" -e /)" != "$(cat "$T/host-points")" ]; then
			escaped=$((escaped + 1))
			grep -F -e " $target " -e " / " "$T/mi.$i" >&2
		fi
	done
	echo "runs: $ok ran, $failed failed, $escaped escaped"
	towel kill "$CT" KILL
	[ "$escaped" -eq 0 ]
	[ -z "$(ls -A "$target")" ]
	# The race did happen: the volume still has both names, swapped or not.
	[ -e "$T/vol/mnt" ] && [ -L "$T/vol/link" -o -L "$T/vol/mnt" ]
}

# ---------------------------------------------------------------------------
# procfs writes go to the real procfs (CVE-2019-16884, CVE-2025-52881).

@test "a sysctl whose /proc/sys file a hook covered with a host file is refused, the host file is untouched" {
	echo 0 >"$T/hostfile"
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": "1"} |
		.hooks.createContainer = [{"path": "/bin/sh", "args": ["sh", "-c",
			"mount --bind \($f) \($r)/proc/sys/net/ipv4/ip_forward"]}]' \
		--arg f "$T/hostfile" --arg r "$BUNDLE/rootfs"
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"not on a real procfs"* ]]
	[ "$(cat "$T/hostfile")" = 0 ]
}

@test "a sysctl under a tmpfs a hook put on /proc/sys is refused" {
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": "1"} |
		.hooks.createContainer = [{"path": "/bin/sh", "args": ["sh", "-c",
			"mount -t tmpfs tmpfs \($r)/proc/sys && mkdir -p \($r)/proc/sys/net/ipv4 && : >\($r)/proc/sys/net/ipv4/ip_forward"]}]' \
		--arg r "$BUNDLE/rootfs"
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"not on a real procfs"* ]]
}

@test "a mount over /proc/sys in config.json is refused" {
	update_config '.mounts += [{"destination": "/proc/sys", "type": "tmpfs",
		"source": "tmpfs"}]'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"/proc"* ]]
}

@test "exec's oom_score_adj is not written to a fake /proc the container mounted" {
	update_config '.process.capabilities.bounding += ["CAP_SYS_ADMIN"] |
		.process.capabilities.effective += ["CAP_SYS_ADMIN"] |
		.process.capabilities.permitted += ["CAP_SYS_ADMIN"] |
		.linux.maskedPaths = [] | .linux.readonlyPaths = []'
	set_args sh -c 'mount -t tmpfs tmpfs /proc && mkdir -p /proc/self &&
		: >/proc/self/oom_score_adj && touch /tmp/ready && exec sleep 1000'
	update_config '.root.readonly = false'
	run_detached "$CT"
	wait_for_file "$BUNDLE/rootfs/tmp/ready"
	jq '.process | .args = ["true"] | .oomScoreAdj = 500' \
		"$BUNDLE/config.json" >"$T/process.json"
	run --separate-stderr towel exec --process "$T/process.json" "$CT"
	echo "$stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"not on a real procfs"* || "$stderr" == *"not the root of a procfs"* ]]
	run towel exec "$CT" cat /proc/self/oom_score_adj
	[ -z "$output" ]
}

# ---------------------------------------------------------------------------
# maskedPaths use the real /dev/null (CVE-2025-31133).

@test "a masked path is not covered by a regular file planted as /dev/null" {
	mkdir "$T/fakedev"
	echo host-null >"$T/fakedev/null"
	update_config '.mounts |= map(select(.destination | startswith("/dev") | not)) |
		.mounts += [{"destination": "/dev", "type": "bind", "source": $d,
			"options": ["rbind"]}] |
		.linux.maskedPaths = ["/etc/hostname"]' --arg d "$T/fakedev"
	set_args cat /etc/hostname
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output $stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"not the null device"* ]]
	[ "$(cat "$T/fakedev/null")" = host-null ]
}

@test "a masked path is not covered by a host file /dev/null links to" {
	mkdir "$T/fakedev"
	echo canary >"$T/canary"
	ln -s "$T/canary" "$T/fakedev/null"
	update_config '.mounts |= map(select(.destination | startswith("/dev") | not)) |
		.mounts += [{"destination": "/dev", "type": "bind", "source": $d,
			"options": ["rbind"]}] |
		.linux.maskedPaths = ["/etc/hostname"]' --arg d "$T/fakedev"
	set_args cat /etc/hostname
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output $stderr"
	[ "$status" -ne 0 ]
	[[ "$output" != *canary* ]]
	[ "$(cat "$T/canary")" = canary ]
	! grep -q " $T/canary " /proc/self/mountinfo
}

# ---------------------------------------------------------------------------
# An image whose /dev, /proc or /sys is a symlink to a host directory.

@test "an image whose /dev links to a host directory gets its devices in the rootfs, the host directory stays empty" {
	mkdir "$T/hostdev"
	rmdir "$BUNDLE/rootfs/dev"
	ln -s "$T/hostdev" "$BUNDLE/rootfs/dev"
	set_args sh -c 'echo x >/dev/null && ls /dev/pts/ptmx && readlink /dev/ptmx'
	run towel run --bundle "$BUNDLE" "$CT" </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$T/hostdev")" ]
}

@test "an image whose /proc or /sys links to a host directory is refused, nothing is mounted there" {
	local d
	for d in proc sys; do
		rm -rf "$T/host$d" "$BUNDLE"
		cp -a "$BATS_RUN_TMPDIR/busybox-bundle" "$BUNDLE"
		mkdir "$T/host$d"
		rmdir "$BUNDLE/rootfs/$d"
		ln -s "$T/host$d" "$BUNDLE/rootfs/$d"
		set_args true
		run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
		echo "$d: $stderr"
		[ "$status" -ne 0 ]
		[[ "$stderr" == *"must be mounted on a directory"* ]]
		[ -z "$(ls -A "$T/host$d")" ]
		! grep -q " $T/host$d " /proc/self/mountinfo
	done
}

# ---------------------------------------------------------------------------
# LSM labels on a host without the LSM: an error, as with runc 1.2.

@test "an AppArmor profile on a host without AppArmor is an error that leaves nothing" {
	[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] &&
		skip "this host runs AppArmor"
	local before
	before=$(snapshot)
	update_config '.process.apparmorProfile = "towel-test"'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -ne 0 ]
	one_line_error
	[[ "$stderr" == *"apparmor profile "*towel-test*": AppArmor not enabled on this host"* ]]
	assert_nothing_left "$before" "$CT"
}

@test "SELinux labels on a host without SELinux are errors" {
	[ -e /sys/fs/selinux/enforce ] && skip "this host runs SELinux"
	update_config '.process.selinuxLabel = "system_u:system_r:container_t:s0"'
	set_args true
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"SELinux not enabled on this host"* ]]

	update_config 'del(.process.selinuxLabel) |
		.linux.mountLabel = "system_u:object_r:container_file_t:s0"'
	run --separate-stderr towel run --bundle "$BUNDLE" "$CT" </dev/null
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"selinux mount label "*container_file_t*": SELinux not enabled"* ]]
}

@test "features says AppArmor and SELinux are supported" {
	run towel features
	[ "$status" -eq 0 ]
	[ "$(jq -r .linux.apparmor.enabled <<<"$output")" = true ]
	[ "$(jq -r .linux.selinux.enabled <<<"$output")" = true ]
}
