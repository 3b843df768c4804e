#!/bin/bash
# deps.sh installs what building (build) or testing (test) towel needs on
# Debian 12, as root. It asks apt only when a package is missing, and then
# runs `apt-get update` once before installing all of them.
#
#   script/deps.sh build|test
#
# Go itself is not installed here: go.mod asks for a newer Go than Debian
# ships, so it must already be in PATH or in /usr/local/go/bin.
set -euo pipefail

build_pkgs=(
	gcc libc6-dev make pkg-config libseccomp-dev git
	busybox-static jq go-md2man
)
test_pkgs=(
	"${build_pkgs[@]}"
	bats jq runc crun tini go-md2man debootstrap
	iproute2 util-linux procps expect
	# newuidmap and newgidmap, for the rootless tests
	uidmap
	# real clients of the runtime, and the fd receiver of the exec tests
	containerd podman conmon python3
)

die() {
	echo "deps: $*" >&2
	exit 1
}

# missing PKG... prints each PKG that dpkg does not list as installed.
missing() {
	local p status
	for p in "$@"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$status" = installed ] || echo "$p"
	done
}

main() {
	local want=() need
	case ${1:-} in
	build) want=("${build_pkgs[@]}") ;;
	test) want=("${test_pkgs[@]}") ;;
	*) echo "usage: $0 build|test" >&2 && exit 2 ;;
	esac

	if ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ]; then
		die "go not found in PATH or /usr/local/go/bin (go.mod needs a recent Go)"
	fi

	mapfile -t need < <(missing "${want[@]}" | sort -u)
	if [ ${#need[@]} -eq 0 ]; then
		return
	fi
	[ "$(id -u)" = 0 ] || die "missing packages ${need[*]}; run as root to install them"

	echo "deps: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

main "$@"
