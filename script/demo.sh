#!/bin/bash
# demo.sh runs one busybox container with the towel built in this
# repository and shows what it printed. `make demo` builds towel first.
#
# Environment: TOWEL_BINARY overrides the runtime (to compare with runc).
# DEMO_DIR (default /tmp/towel-demo) holds the bundle and the
# state directory; it is removed again at the end.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
towel=${TOWEL_BINARY:-$here/../towel}
dir=${DEMO_DIR:-/tmp/towel-demo}
id=towel-demo-$$

[ "$(id -u)" = 0 ] || { echo "demo: run as root" >&2; exit 1; }
[ -x "$towel" ] || { echo "demo: $towel not built (run make)" >&2; exit 1; }

cleanup() {
	"$towel" --root "$dir/state" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
rm -rf "$dir"

# The container's own view: its hostname, pid, user, capabilities and
# processes, then an exit status that towel hands back.
script='
echo "hello from a towel container"
echo "hostname:     $(hostname)"
echo "my pid:       $$"
echo "user:         $(id)"
echo "capabilities: $(grep CapEff /proc/self/status)"
echo "root mount:   $(awk "\$5 == \"/\" { print \$6 }" /proc/self/mountinfo)"
echo "processes:"
ps -o pid,user,comm
exit 7
'
"$here/mkbundle.sh" "$dir/bundle" busybox sh -c "$script" >/dev/null

echo "+ towel --root $dir/state run --bundle $dir/bundle $id"
rc=0
"$towel" --root "$dir/state" run --bundle "$dir/bundle" "$id" || rc=$?
echo "+ exit status $rc (the container's: 7)"

echo "+ towel --version"
"$towel" --version
[ "$rc" = 7 ]
