#!/bin/bash
# lifecycle.sh times towel against runc on the same busybox `true` bundle,
# interleaved in one run so that both see the same machine:
#
#   cycle  create + start + wait for exit + delete
#   run    run (create, start, wait and delete in one command)
#
#   bench/lifecycle.sh [N]      N iterations of each (default 50)
#
# It prints the median of each, in milliseconds, and the ratio towel/runc.
# It asserts nothing. Environment: TOWEL_BINARY (default ./towel),
# RUNC_BINARY (default: runc in PATH).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
n=${1:-50}
towel=${TOWEL_BINARY:-$here/../towel}
runc=${RUNC_BINARY:-$(command -v runc || true)}

[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$towel" ] || { echo "bench: $towel not built (run make)" >&2; exit 1; }
[ -x "$runc" ] || { echo "bench: runc not found (apt-get install runc)" >&2; exit 1; }

work=$(mktemp -d /tmp/towel-bench.XXXXXX)
# Container ids name cgroups, which are machine-wide: make them unique.
tag=towel-bench-$$
cleanup() {
	local rt
	for rt in towel runc; do
		for id in $("${!rt}" --root "$work/$rt" list -q 2>/dev/null); do
			"${!rt}" --root "$work/$rt" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$work"
}
trap cleanup EXIT

TOWEL_BINARY=$towel "$here/../script/mkbundle.sh" "$work/bundle" busybox true >/dev/null

now_ns() {
	date +%s%N
}

# wait_exit PID waits until PID has exited (gone, or a zombie).
wait_exit() {
	local stat
	while read -r stat 2>/dev/null <"/proc/$1/stat"; do
		stat=${stat##*) }
		[ "${stat%% *}" = Z ] && return
		sleep 0.001
	done
}

# cycle RT ID prints the time of one create, start, wait, delete in ns,
# or FAIL (and cleans up) if a step failed.
cycle() {
	local bin=${!1} root=$work/$1 start pid
	start=$(now_ns)
	if "$bin" --root "$root" create --bundle "$work/bundle" \
		--pid-file "$work/$1.pid" "$2" </dev/null >/dev/null &&
		pid=$(<"$work/$1.pid") &&
		"$bin" --root "$root" start "$2" &&
		wait_exit "$pid" &&
		"$bin" --root "$root" delete "$2"; then
		echo $(($(now_ns) - start))
		return
	fi
	"$bin" --root "$root" delete --force "$2" >/dev/null 2>&1 || true
	echo FAIL
}

# run_once RT ID prints the time of one run in ns, or FAIL.
run_once() {
	local bin=${!1} root=$work/$1 start
	start=$(now_ns)
	if "$bin" --root "$root" run --bundle "$work/bundle" "$2" </dev/null >/dev/null; then
		echo $(($(now_ns) - start))
		return
	fi
	"$bin" --root "$root" delete --force "$2" >/dev/null 2>&1 || true
	echo FAIL
}

# median FILE prints the median of the numbers in FILE, in ms, leaving
# out the failed rounds.
median() {
	grep -v FAIL "$1" | sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { printf "-"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f", m / 1e6 }'
}

# One untimed round each, so that page cache and binaries are warm.
cycle towel "$tag-warm" >/dev/null
cycle runc "$tag-warm" >/dev/null

for i in $(seq "$n"); do
	# Alternate which runtime goes first, so neither always follows
	# the other.
	if [ $((i % 2)) -eq 0 ]; then order="towel runc"; else order="runc towel"; fi
	for rt in $order; do
		cycle "$rt" "$tag-c$i" >>"$work/$rt.cycle"
		run_once "$rt" "$tag-r$i" >>"$work/$rt.run"
	done
done

echo "towel: $("$towel" --version | head -n1)"
echo "runc:  $("$runc" --version | head -n1)"
echo "$n iterations, median milliseconds per container"
printf '%-28s %8s %8s %11s %14s\n' "" towel runc towel/runc "failed t/r"
for kind in cycle run; do
	t=$(median "$work/towel.$kind")
	r=$(median "$work/runc.$kind")
	label="create+start+wait+delete"
	[ "$kind" = run ] && label="run"
	printf '%-28s %8s %8s %11s %14s\n' "$label" "$t" "$r" \
		"$(awk -v t="$t" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", t / r; else printf "-" }')" \
		"$(grep -c FAIL "$work/towel.$kind")/$(grep -c FAIL "$work/runc.$kind")"
done
