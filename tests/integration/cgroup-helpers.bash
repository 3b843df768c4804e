# cgroup-helpers.bash: run towel on other cgroup layouts than the host's.
#
# The test machine is hybrid: cgroup v1 hierarchies under /sys/fs/cgroup,
# cgroup2 (with only hugetlb) at /sys/fs/cgroup/unified. in_v2 runs a
# script in a private mount namespace where cgroup2 is mounted on
# /sys/fs/cgroup, so the runtime takes the host for a pure v2 one. There
# is one cgroup2 hierarchy per machine: a cgroup /X seen in that namespace
# is $UNIFIED/X on the host, where the tests read it.
#
# in_v1_net does the same for cgroup v1 with the net_cls and net_prio
# controllers mounted as a hierarchy of their own, which the host does not
# mount.
#
# Every towel command on a container made in such a namespace must run in
# one too: on the host's layout its cgroup is not where its state says.
# teardown_cgroup_ns deletes those containers the right way.

UNIFIED=/sys/fs/cgroup/unified

# The script's prelude: towel on this test's root, and small helpers.
# shellcheck disable=SC2016 # expanded in the namespace
CGROUP_NS_PRELUDE='
towel() { "$TOWEL_BINARY" --root "$ROOT" "$@"; }
pid_of() { towel state "$1" | jq -r .pid; }
status_of() { towel state "$1" 2>/dev/null | jq -r .status; }
# v2_cgroup_of PID prints the cgroup2 path of PID.
v2_cgroup_of() { awk -F: '\''$1 == "0" { print $3 }'\'' "/proc/$1/cgroup"; }
# run_detached ID [ARG...]: run --detach with stdio on files.
run_detached() {
	local id=$1
	shift
	towel run --detach --bundle "$BUNDLE" "$@" "$id" </dev/null \
		>"$BATS_TEST_TMPDIR/$id.out" 2>"$BATS_TEST_TMPDIR/$id.err"
}
'

# requires_v2_namespace skips the test unless in_v2 can work here.
requires_v2_namespace() {
	[ -d "$UNIFIED" ] || cgroup_v2 || skip "no cgroup2 hierarchy on this host"
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace"
}

# in_v2 SCRIPT [ARG...] runs the bash SCRIPT (with the prelude's
# functions, ROOT, BUNDLE, CT, TOWEL_BINARY exported, and ARG... as its
# positional parameters) in a new mount namespace whose /sys/fs/cgroup is
# cgroup2. Its exit status is the script's.
in_v2() {
	export BATS_TEST_TMPDIR
	unshare -m bash -c '
		mount --make-rprivate / &&
			umount -l /sys/fs/cgroup &&
			mount -t cgroup2 none /sys/fs/cgroup || exit 99
		prelude=$1 script=$2
		shift 2
		eval "$prelude"
		eval "$script"' in_v2 "$CGROUP_NS_PRELUDE" "$@"
}

# requires_net_cls skips the test unless the kernel has net_cls and
# net_prio and they are not mounted yet (in_v1_net mounts them).
requires_net_cls() {
	cgroup_v2 && skip "cgroup v1 test on a cgroup v2 host"
	grep -qw net_cls /proc/cgroups && grep -qw net_prio /proc/cgroups ||
		skip "kernel has no net_cls or net_prio controller"
	if grep -q ' - cgroup .*net_cls' /proc/self/mountinfo; then
		skip "net_cls is mounted on the host; test it there"
	fi
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace"
}

# in_v1_net SCRIPT runs the bash SCRIPT in a new mount namespace whose
# /sys/fs/cgroup is a new tmpfs with the host's hierarchies bound back in
# and a net_cls,net_prio hierarchy mounted next to them.
in_v1_net() {
	export BATS_TEST_TMPDIR
	unshare -m bash -c '
		set -e
		mount --make-rprivate /
		keep=$(mktemp -d)
		mount --rbind /sys/fs/cgroup "$keep"
		mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
		for d in "$keep"/*; do
			name=${d##*/}
			if [ -L "$d" ]; then
				cp -P "$d" /sys/fs/cgroup/
			else
				mkdir "/sys/fs/cgroup/$name"
				mount --rbind "$d" "/sys/fs/cgroup/$name"
			fi
		done
		umount -l "$keep"
		rmdir "$keep"
		mkdir /sys/fs/cgroup/net_cls,net_prio
		mount -t cgroup -o net_cls,net_prio cgroup \
			/sys/fs/cgroup/net_cls,net_prio
		set +e
		eval "$1"
		eval "$2"' in_v1_net "$CGROUP_NS_PRELUDE" "$1"
}

# teardown_cgroup_ns deletes this test's containers that were made in a
# v2 namespace (their state has only a cgroup2 path) from such a
# namespace, leaving the host's to teardown_common, then removes any
# cgroup2 directory left with the test's id (empty ones only: a cgroup
# with processes is a bug the test should show).
teardown_cgroup_ns() {
	local st ids=()
	for st in "${ROOT:-/nonexistent}"/*/state.json; do
		[ -e "$st" ] || continue
		if jq -e '(.cgroup_paths // {}) | keys == [""]' "$st" >/dev/null; then
			ids+=("$(basename "$(dirname "$st")")")
		fi
	done
	if [ "${#ids[@]}" -gt 0 ]; then
		# shellcheck disable=SC2016 # expanded in the namespace
		in_v2 'for id in "$@"; do
			towel delete --force "$id" >/dev/null 2>&1
		done' "${ids[@]}" || true
	fi
	find "$UNIFIED" -depth -mindepth 1 -type d -name "*${CT:-no-test}*" \
		-exec rmdir {} \; 2>/dev/null || true
}
