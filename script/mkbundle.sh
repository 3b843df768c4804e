#!/bin/bash
# mkbundle.sh makes an OCI bundle to run with towel (or runc).
#
#   script/mkbundle.sh DIR [busybox|debian] [ARG...]
#
# DIR/rootfs is the root file system, DIR/config.json comes from
# `towel spec` with terminal off and the process args set to ARG...
# (default: sh). DIR must not hold a bundle already.
#
#   busybox  a static busybox ($BUSYBOX, default /bin/busybox) with its
#            applet links, /etc/passwd and /etc/group (the default)
#   debian   a Debian bookworm minbase made by debootstrap from the
#            machine's own apt mirror, cached in $TOWEL_CACHE/debian
#            (default /var/cache/towel-test) so later bundles copy it
#
# Environment: TOWEL_BINARY is the runtime whose `spec` writes the config
# (default: the towel built in this repository).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
towel=${TOWEL_BINARY:-$here/../towel}
cache=${TOWEL_CACHE:-/var/cache/towel-test}

die() {
	echo "mkbundle: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 DIR [busybox|debian] [ARG...]" >&2
	exit 2
}

# make_busybox_rootfs ROOTFS fills ROOTFS from the host's static busybox.
make_busybox_rootfs() {
	local rootfs=$1 busybox applet

	busybox=${BUSYBOX:-/bin/busybox}
	[ -x "$busybox" ] || die "$busybox not found (apt-get install busybox-static)"
	# A dynamic busybox would need the host's libc inside the rootfs.
	if ldd "$busybox" >/dev/null 2>&1; then
		die "$busybox is not static (apt-get install busybox-static)"
	fi

	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev,home,var/tmp}
	chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
	chmod 0700 "$rootfs/root"
	cp "$busybox" "$rootfs/bin/busybox"
	chmod 0755 "$rootfs/bin/busybox"

	# One absolute symlink per applet, where busybox --install -s would
	# put it; the links resolve inside the container, not on the host.
	while read -r applet; do
		[ "$applet" = bin/busybox ] && continue
		mkdir -p "$rootfs/$(dirname "$applet")"
		ln -sfn /bin/busybox "$rootfs/$applet"
	done < <("$rootfs/bin/busybox" --list-full)

	cat >"$rootfs/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		user:x:1000:1000:test user:/home/user:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$rootfs/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		tty:x:5:
		users:x:100:user
		user:x:1000:
		nogroup:x:65534:
	EOF
	echo "towel-busybox" >"$rootfs/etc/hostname"
	mkdir -p "$rootfs/home/user"
	chown 1000:1000 "$rootfs/home/user"
}

# apt_mirror prints the Debian mirror this machine's apt uses, from the
# deb822 sources file or the one-line sources.list, whichever names one.
apt_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# The first URIs of a stanza that is not the security archive.
		uri=$(awk '
			/^[[:space:]]*$/ { if (u != "" && s !~ /security/) { print u; exit } u = ""; s = ""; next }
			/^URIs:/ { u = $2 }
			/^Suites:/ { s = $0 }
			END { if (u != "" && s !~ /security/) print u }
		' "$f" | head -n1)
		if [ -n "$uri" ]; then
			echo "$uri"
			return
		fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uri=$(awk '$1 == "deb" && $0 !~ /security/ {
			for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; exit }
		}' "$f" | head -n1)
		if [ -n "$uri" ]; then
			echo "$uri"
			return
		fi
	done
	return 1
}

# debian_cache makes the cached minbase tree once and prints its path.
debian_cache() {
	local dir=$cache/debian/bookworm-minbase mirror tmp
	if [ -e "$dir/.complete" ]; then
		echo "$dir"
		return
	fi

	command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
	mirror=$(apt_mirror) || die "no Debian mirror found in /etc/apt/sources.list{,.d/}"

	mkdir -p "$cache/debian"
	tmp=$(mktemp -d "$cache/debian/.bootstrap.XXXXXX")
	echo "mkbundle: debootstrap bookworm from $mirror into $dir" >&2
	if ! debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1; then
		tail -n 5 "$tmp.log" >&2
		rm -rf "$tmp"
		die "debootstrap failed, log in $tmp.log"
	fi
	rm -f "$tmp.log"
	# mktemp made the directory 0700; as a root file system it must let
	# every user in.
	chmod 0755 "$tmp"
	# debootstrap leaves the host's resolv.conf and apt caches behind.
	rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
	touch "$tmp/.complete"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	echo "$dir"
}

# write_config DIR ARG... writes DIR/config.json for a non-terminal process.
write_config() {
	local dir=$1 args
	shift
	[ -x "$towel" ] || die "$towel is not built (run make)"
	"$towel" spec --bundle "$dir" || die "$towel spec failed"

	command -v jq >/dev/null || die "jq not found (apt-get install jq)"
	# Each argument becomes one JSON string, whatever it contains.
	args=$(for a in "$@"; do printf '%s' "$a" | jq -Rs .; done | jq -sc .)
	jq --argjson args "$args" \
		'.process.terminal = false | .process.args = $args' \
		"$dir/config.json" >"$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
}

main() {
	[ $# -ge 1 ] || usage
	local dir=$1 kind=${2:-busybox}
	shift
	[ $# -gt 0 ] && shift
	[ $# -gt 0 ] || set -- sh

	[ -e "$dir/config.json" ] && die "$dir/config.json exists"
	[ -e "$dir/rootfs" ] && die "$dir/rootfs exists"
	mkdir -p "$dir"

	case $kind in
	busybox)
		make_busybox_rootfs "$dir/rootfs"
		;;
	debian)
		local src
		src=$(debian_cache)
		cp -a "$src" "$dir/rootfs"
		rm -f "$dir/rootfs/.complete"
		;;
	*)
		usage
		;;
	esac

	write_config "$dir" "$@"
}

main "$@"
