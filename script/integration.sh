#!/bin/bash
# integration.sh runs the bats suite in tests/integration as root and ends
# with one summary line ("integration: N passed, N failed, N skipped").
#
#   script/integration.sh [FILE.bats...]
#
# The suite runs under `tini -s`, a child subreaper: a container's init
# whose `towel create` has exited is reparented to tini, which reaps it at
# once, where the machine's PID 1 may take its time.
#
# Environment: TOWEL_BINARY (runtime under test, default ./towel),
# BATS_FLAGS (extra flags for bats, e.g. "-f kill").
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."

[ "$(id -u)" = 0 ] || { echo "integration: run as root" >&2; exit 1; }
command -v bats >/dev/null || { echo "integration: bats not found (make deps-test)" >&2; exit 1; }

if [ $# -eq 0 ]; then
	set -- tests/integration/*.bats
fi

reaper=()
command -v tini >/dev/null && reaper=(tini -s -g --)

# A test that hangs is failed after this many seconds, not waited for.
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}

log=$(mktemp /tmp/towel-integration.XXXXXX)
trap 'rm -f "$log"' EXIT

# TAP keeps the output the same with and without a terminal, and is what
# the summary below counts.
# shellcheck disable=SC2086
"${reaper[@]}" bats --tap ${BATS_FLAGS:-} "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

skipped=$(grep -c '^ok .* # skip' "$log")
passed=$(($(grep -c '^ok ' "$log") - skipped))
failed=$(grep -c '^not ok ' "$log")
echo
echo "integration: $passed passed, $failed failed, $skipped skipped"
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "integration: bats exited with status $rc" >&2
fi
exit "$rc"
