#!/bin/bash
# exe-memory.sh measures what protecting the runtime binary costs in memory,
# for towel and another runtime in the same run (default: Debian's runc).
#
#   script/exe-memory.sh [N [RUNTIME...]]
#
# as root; N containers each (default 5); RUNTIMEs are more binaries to
# measure the same way.
#
# For each runtime it creates N busybox containers (`sleep`) in cgroups of
# its own, and reports, averaged over them:
#   created  the container cgroup's memory use while init waits for start,
#            running the runtime's binary (or its protected copy)
#   initPss  the proportional set size of that waiting init
#   running  the cgroup's memory use once the container runs `sleep`
#   exec     the cgroup's peak memory during `exec CT true` above its use
#            before, i.e. what an exec costs the container at its worst
#   caller   the growth of this script's own cgroup per created container
#            (memory a copy of the binary takes outside the container)
#   callerExec  the same cgroup's peak during an exec, above its use
#            before (the runtime process itself, and any copy it makes)
# The row towel-dmz is towel with RUNC_DMZ=true. Memory is cgroup v1 memory.usage_in_bytes / max_usage_in_bytes, or v2
# memory.current / memory.peak, in KiB.
#
# Environment: TOWEL_BINARY (default ./towel), OTHER_RUNTIME (default
# /usr/sbin/runc).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
towel=${TOWEL_BINARY:-$here/../towel}
other=${OTHER_RUNTIME:-/usr/sbin/runc}
n=${1:-5}

[ "$(id -u)" = 0 ] || { echo "exe-memory: run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/exe-memory.XXXXXX)
trap 'cleanup' EXIT

# memdir CGROUPSPATH prints the memory cgroup directory of a container.
memdir() {
	if [ -e /sys/fs/cgroup/memory ]; then
		echo "/sys/fs/cgroup/memory$1"
	else
		echo "/sys/fs/cgroup$1"
	fi
}

usage() {
	local d=$1
	if [ -e "$d/memory.usage_in_bytes" ]; then
		cat "$d/memory.usage_in_bytes"
	else
		cat "$d/memory.current"
	fi
}

peak() {
	local d=$1
	if [ -e "$d/memory.max_usage_in_bytes" ]; then
		cat "$d/memory.max_usage_in_bytes"
	else
		cat "$d/memory.peak"
	fi
}

reset_peak() {
	local d=$1
	if [ -e "$d/memory.max_usage_in_bytes" ]; then
		echo 0 >"$d/memory.max_usage_in_bytes"
	elif [ -e "$d/memory.peak" ]; then
		# Linux 6.12: writing to memory.peak resets it for this fd.
		echo reset >"$d/memory.peak" 2>/dev/null || true
	fi
}

# caller_usage prints the memory use of this script's own cgroup.
caller_usage() {
	local rel
	rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
	[ -n "$rel" ] || rel=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
	usage "$(memdir "$rel")"
}

pss() {
	awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup"
}

ids=()
cleanup() {
	local id rt
	for id in "${ids[@]}"; do
		rt=${id%%:*}
		"$rt" --root "$work/root" delete -f "${id#*:}" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
	if [ -n "${own:-}" ]; then
		echo $$ >"$(memdir /)/cgroup.procs"
		rmdir "$(memdir "$own")" 2>/dev/null || true
	fi
}

"$here/mkbundle.sh" "$work/bundle" busybox sleep 1000 >/dev/null

# This script runs in a memory cgroup of its own, so that "caller" sees
# what the runtime's parent process leaves charged there.
own=/exe-memory-caller-$$
mkdir "$(memdir "$own")"
echo $$ >"$(memdir "$own")/cgroup.procs"

measure() {
	local rt=$1 name=$2 i id cg d bundle
	local created=0 initpss=0 running=0 exec=0 execcaller=0
	local caller0 caller1 before callerbefore
	for i in $(seq "$n"); do
		id=mem-$name-$$-$i
		cg=/exe-memory-$name-$$-$i
		bundle=$work/b-$id
		cp -a "$work/bundle" "$bundle"
		jq --arg cg "$cg" '.linux.cgroupsPath = $cg' "$bundle/config.json" \
			>"$bundle/c.json"
		mv "$bundle/c.json" "$bundle/config.json"
	done
	# Each runtime's binary is read once before, so that its page cache
	# is not counted as the first container's.
	"$rt" --version >/dev/null
	caller0=$(caller_usage)
	for i in $(seq "$n"); do
		id=mem-$name-$$-$i
		ids+=("$rt:$id")
		"$rt" --root "$work/root" create --bundle "$work/b-$id" "$id" \
			</dev/null >/dev/null 2>&1
	done
	sleep 1
	caller1=$(caller_usage)
	for i in $(seq "$n"); do
		id=mem-$name-$$-$i
		d=$(memdir "/exe-memory-$name-$$-$i")
		created=$((created + $(usage "$d")))
		initpss=$((initpss + $(pss "$("$rt" --root "$work/root" state "$id" | jq .pid)")))
		"$rt" --root "$work/root" start "$id"
	done
	sleep 1
	for i in $(seq "$n"); do
		id=mem-$name-$$-$i
		d=$(memdir "/exe-memory-$name-$$-$i")
		running=$((running + $(usage "$d")))
		before=$(usage "$d")
		callerbefore=$(caller_usage)
		reset_peak "$d"
		reset_peak "$(memdir "$own")"
		"$rt" --root "$work/root" exec "$id" true
		exec=$((exec + $(peak "$d") - before))
		execcaller=$((execcaller + $(peak "$(memdir "$own")") - callerbefore))
		"$rt" --root "$work/root" delete -f "$id" >/dev/null
	done
	printf '%-20s %9d %9d %9d %9d %9d %9d\n' "$name" \
		$((created / n / 1024)) $((initpss / n)) $((running / n / 1024)) \
		$((exec / n / 1024)) $(((caller1 - caller0) / n / 1024)) \
		$((execcaller / n / 1024))
}

echo "$(basename "$towel"): $("$towel" --version | head -1)"
echo "$(basename "$other"): $("$other" --version | head -1)"
printf '%-20s %9s %9s %9s %9s %9s %9s\n' "KiB per container" created \
	initPss running exec caller callerExec
measure "$towel" towel
measure "$other" "$(basename "$other")"
export RUNC_DMZ=true
measure "$towel" towel-dmz
unset RUNC_DMZ
for extra in "$@"; do
	[ "$extra" = "$n" ] && continue
	measure "$extra" "$(basename "$(dirname "$extra")")-$(basename "$extra")"
done
