# helpers.bash: shared set-up for the towel integration tests.
#
# Each test gets its own state root ($ROOT), bundle ($BUNDLE) and container
# id ($CT) under $BATS_TEST_TMPDIR, and teardown deletes whatever the test
# left. TOWEL_BINARY selects the runtime under test (default: the towel
# built in this repository), so the same tests can be run against runc:
#
#   TOWEL_BINARY=/usr/sbin/runc bats tests/integration

bats_require_minimum_version 1.5.0

INTEGRATION_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$INTEGRATION_ROOT/../.." && pwd)
TOWEL=${TOWEL_BINARY:-$REPO_ROOT/towel}
MKBUNDLE=$REPO_ROOT/script/mkbundle.sh
export TOWEL_BINARY=$TOWEL

# towel runs the runtime under test on this test's state root.
towel() {
	"$TOWEL" --root "$ROOT" "$@"
}

# setup_common sets $ROOT and $CT; it makes no bundle.
setup_common() {
	ROOT=$BATS_TEST_TMPDIR/root
	# Unique per run and per test, so a cgroup or process left by an
	# earlier test cannot be mistaken for this one's.
	CT=towel-test-$$-$BATS_TEST_NUMBER
	CT2=$CT-b
	export ROOT CT CT2
}

# setup_busybox makes $BUNDLE, a busybox bundle whose process is `sh` with
# no terminal, copied from one bundle made per test run.
setup_busybox() {
	setup_common
	local cache=$BATS_RUN_TMPDIR/busybox-bundle
	(
		flock 9
		if [ ! -e "$cache/config.json" ]; then
			rm -rf "$cache"
			"$MKBUNDLE" "$cache" busybox sh >/dev/null
		fi
	) 9>"$BATS_RUN_TMPDIR/busybox-bundle.lock"
	BUNDLE=$BATS_TEST_TMPDIR/bundle
	cp -a "$cache" "$BUNDLE"
	export BUNDLE
}

# teardown_common deletes every container left in $ROOT and unmounts
# anything still mounted under this test's directory, so that bats can
# remove it without walking into a leaked mount.
teardown_common() {
	local id m
	teardown_recvtty
	if [ -d "${ROOT:-}" ]; then
		for id in $(towel list -q 2>/dev/null); do
			towel delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	# Deepest first; mountinfo escapes spaces as \040.
	for m in $(awk -v d="$BATS_TEST_TMPDIR" 'index($5, d) == 1 { print $5 }' \
		/proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	kill_test_helpers
}

# kill_test_helpers ends the processes a test left in the background that
# name its directory on their command line (socket receivers, runtimes
# waiting on a container). Left alone they would hold bats' output open,
# and the whole suite would wait for them.
kill_test_helpers() {
	local f p
	# One grep over every cmdline rather than two processes per pid.
	for f in $(grep -lsF -- "$BATS_TEST_TMPDIR" /proc/[0-9]*/cmdline); do
		p=${f#/proc/}
		p=${p%/cmdline}
		[ "$p" = "$$" ] && continue
		kill -KILL "$p" 2>/dev/null || true
	done
}

# update_config FILTER [JQ-ARGS...] applies a jq filter to config.json.
update_config() {
	local filter=$1
	shift
	jq "$@" "$filter" "$BUNDLE/config.json" >"$BUNDLE/config.json.new"
	mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
}

# set_args ARG... sets process.args.
set_args() {
	local args
	args=$(for a in "$@"; do printf '%s' "$a" | jq -Rs .; done | jq -sc .)
	update_config '.process.args = $a' --argjson a "$args"
}

# create_detached ID [ARG...] creates container ID from $BUNDLE with its
# stdio on files in $BATS_TEST_TMPDIR, so that bats does not wait on it.
create_detached() {
	local id=$1
	shift
	towel create --bundle "$BUNDLE" "$@" "$id" \
		</dev/null >"$BATS_TEST_TMPDIR/$id.out" 2>"$BATS_TEST_TMPDIR/$id.err"
}

# run_detached ID [ARG...] runs container ID in the background with
# `run --detach`, stdio on files as create_detached does.
run_detached() {
	local id=$1
	shift
	towel run --detach --bundle "$BUNDLE" "$@" "$id" \
		</dev/null >"$BATS_TEST_TMPDIR/$id.out" 2>"$BATS_TEST_TMPDIR/$id.err"
}

# towel_captured ARG... runs towel with its stdio on files, so that a
# container which unexpectedly starts cannot hold bats' pipes open, and
# sets status, output, lines, stderr and stderr_lines as
# `run --separate-stderr` does.
towel_captured() {
	local out=$BATS_TEST_TMPDIR/captured.out err=$BATS_TEST_TMPDIR/captured.err
	status=0
	towel "$@" </dev/null >"$out" 2>"$err" || status=$?
	output=$(cat "$out")
	stderr=$(cat "$err")
	mapfile -t lines <"$out"
	mapfile -t stderr_lines <"$err"
}

# status_of ID prints the container's status, or nothing if it is unknown.
status_of() {
	towel state "$1" 2>/dev/null | jq -r .status
}

# pid_of ID prints the container's init pid as the host sees it.
pid_of() {
	towel state "$1" | jq -r .pid
}

# wait_for_status ID STATUS waits up to 10 s for ID to reach STATUS.
wait_for_status() {
	local i
	for i in $(seq 100); do
		[ "$(status_of "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "container $1 is $(status_of "$1"), not $2" >&2
	return 1
}

# wait_for_file FILE waits up to 10 s for FILE to exist.
wait_for_file() {
	local i
	for i in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	echo "$1 did not appear" >&2
	return 1
}

# in_container CMD... runs CMD in a fresh container from $BUNDLE with
# `run` and leaves bats' $status and $output. The container is deleted.
in_container() {
	set_args "$@"
	run towel run --bundle "$BUNDLE" "$CT" </dev/null
}

# host_ns TYPE prints the host's namespace link of TYPE (as readlink shows it).
host_ns() {
	readlink "/proc/self/ns/$1"
}

# count_mounts prints the number of mounts in this mount namespace, less
# those in another directory under the temporary directory than this bats
# run's: other suites and builds on the same machine mount there, and must
# not make this one's counts wrong. A leak of the runtime's own shows up
# in this run's directory (bundles, --root) or outside the temporary one.
count_mounts() {
	awk -v own="$BATS_RUN_TMPDIR/" -v tmp="${BATS_RUN_TMPDIR%/*}/" '
		index($5 "/", tmp) == 1 && index($5 "/", own) != 1 { next }
		{ n++ }
		END { print n }' /proc/self/mountinfo
}

# count_state_dirs prints the number of entries in $ROOT.
count_state_dirs() {
	if [ -d "$ROOT" ]; then
		find "$ROOT" -mindepth 1 -maxdepth 1 | wc -l
	else
		echo 0
	fi
}

# cgroups_named PATTERN lists cgroup directories whose name contains
# PATTERN, in every hierarchy.
cgroups_named() {
	find /sys/fs/cgroup -mindepth 1 -type d -name "*$1*" 2>/dev/null
}

# count_cgroups prints the number of cgroup directories on the host.
count_cgroups() {
	find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | wc -l
}

# container_procs lists the processes of this test's containers, as the
# host sees them: those whose root directory is a rootfs under
# $BATS_TEST_TMPDIR, and those (zombies included) whose cgroup path holds
# $CT, which every container id of a test starts with.
container_procs() {
	local p rootid roots=" "
	for p in "$BATS_TEST_TMPDIR"/*/rootfs; do
		[ -d "$p" ] && roots+="$(stat -c %d:%i "$p") "
	done
	for p in /proc/[0-9]*; do
		rootid=$(stat -L -c %d:%i "$p/root" 2>/dev/null) || continue
		if [[ $roots == *" $rootid "* ]] || grep -qF -- "$CT" "$p/cgroup" 2>/dev/null; then
			echo "${p#/proc/} $(awk '/^State:/ { print $2 }' "$p/status" 2>/dev/null)" \
				"$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)"
		fi
	done
}

# count_procs prints how many container_procs there are.
count_procs() {
	container_procs | wc -l
}

# snapshot prints the numbers that must not change when a failed or
# deleted container leaves nothing behind: the host's mounts, entries in
# $ROOT, and this test's container processes. Cgroups are checked by
# name in assert_nothing_left, since other cgroups come and go.
snapshot() {
	echo "mounts=$(count_mounts) states=$(count_state_dirs) procs=$(count_procs)"
}

# assert_nothing_left BEFORE ID... checks that the snapshot equals BEFORE
# and that no cgroup carries one of the ids.
assert_nothing_left() {
	local before=$1 after id left
	shift
	after=$(snapshot)
	for id in "$@"; do
		left=$(cgroups_named "$id")
		if [ -n "$left" ]; then
			echo "cgroups left for $id: $left" >&2
			return 1
		fi
	done
	# The mount count may drop while other work on the machine unmounts
	# things; only a count that grew is a leak.
	local mounts_before=${before%% *} mounts_after=${after%% *}
	if [ "${before#* }" != "${after#* }" ] ||
		[ "${mounts_after#mounts=}" -gt "${mounts_before#mounts=}" ]; then
		echo "before: $before" >&2
		echo "after:  $after" >&2
		container_procs >&2
		return 1
	fi
}

# cgroup_dir PID CONTROLLER prints the host directory of PID's cgroup for
# CONTROLLER (v1), or its unified cgroup when CONTROLLER has no v1
# hierarchy.
cgroup_dir() {
	local pid=$1 ctrl=$2 path mnt
	path=$(awk -F: -v c="$ctrl" '{
		n = split($2, cs, ",")
		for (i = 1; i <= n; i++) if (cs[i] == c) { print $3; exit }
	}' "/proc/$pid/cgroup")
	if [ -n "$path" ]; then
		mnt=$(findmnt -n -o TARGET -t cgroup -O "$ctrl" | head -n1)
		echo "$mnt$path"
		return
	fi
	path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
	mnt=$(findmnt -n -o TARGET -t cgroup2 | head -n1)
	echo "$mnt$path"
}

# cgroup_v2 reports whether /sys/fs/cgroup is a pure cgroup v2 host.
cgroup_v2() {
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]
}

# one_line_error checks bats' $stderr (run --separate-stderr) is one line.
one_line_error() {
	if [ "${#stderr_lines[@]}" -ne 1 ]; then
		echo "stderr has ${#stderr_lines[@]} lines, want 1:" >&2
		printf '%s\n' "${stderr_lines[@]}" >&2
		return 1
	fi
}

# is_runc reports whether the runtime under test is runc itself.
is_runc() {
	"$TOWEL" --version 2>/dev/null | grep -q '^runc version'
}

# requires_kernel_ns TYPE skips the test if the kernel has no TYPE
# namespace.
requires_kernel_ns() {
	[ -e "/proc/self/ns/$1" ] || skip "kernel has no $1 namespace"
}

# go_helper NAME prints the path of the Go command NAME of this repository
# (contrib/cmd/NAME or tests/cmd/NAME), built once per test run. It is
# static, so that it also runs inside a busybox container.
go_helper() {
	local name=$1 pkg bin=$BATS_RUN_TMPDIR/bin/$1
	pkg=contrib/cmd/$name
	[ -d "$REPO_ROOT/$pkg" ] || pkg=tests/cmd/$name
	(
		flock 9
		if [ ! -x "$bin" ]; then
			command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
			cd "$REPO_ROOT" && CGO_ENABLED=0 go build -o "$bin" "./$pkg" >&2
		fi
	) 9>"$BATS_RUN_TMPDIR/go-helper-$name.lock" || return
	echo "$bin"
}

# setup_recvtty starts contrib/cmd/recvtty in null mode on $CONSOLE_SOCKET,
# the console socket for containers with a terminal that run detached.
# teardown_common stops it.
setup_recvtty() {
	local recvtty
	recvtty=$(go_helper recvtty) || return
	CONSOLE_SOCKET=$BATS_TEST_TMPDIR/console.sock
	export CONSOLE_SOCKET
	# fd 3 closed: bats waits for whoever holds it.
	"$recvtty" --mode null --pid-file "$BATS_TEST_TMPDIR/recvtty.pid" \
		"$CONSOLE_SOCKET" </dev/null >/dev/null 2>&1 3>&- &
	wait_for_file "$BATS_TEST_TMPDIR/recvtty.pid"
}

# teardown_recvtty stops the recvtty of setup_recvtty, if any.
teardown_recvtty() {
	local pidfile=$BATS_TEST_TMPDIR/recvtty.pid
	if [ -f "$pidfile" ]; then
		kill "$(cat "$pidfile")" 2>/dev/null || true
		rm -f "$pidfile"
	fi
}
