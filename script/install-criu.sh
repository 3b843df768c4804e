#!/bin/bash
# install-criu.sh makes sure a criu that works on this kernel is in PATH,
# for `towel checkpoint` and `towel restore` and their tests. Run as root.
#
#   script/install-criu.sh [--force]
#
# It does nothing when the criu in PATH passes `criu check` and is at
# least $CRIU_MIN_VERSION. Otherwise it fetches criu and the libraries it
# needs from a newer Debian release with `apt-get download`, unpacks them
# under $CRIU_PREFIX, points the binary at the unpacked loader and
# libraries with patchelf, and links it as $CRIU_LINK, which comes before
# /usr/sbin in PATH.
#
# Why a newer release: Debian 12's criu 3.17 fails `criu check` on Linux
# 6.18 (vDSO layout), and Debian 13's criu 4.1 cannot dump a TCP socket on
# Linux 6.16 or newer (getsockopt SO_PASSCRED is refused for it there);
# criu 4.2 handles both.
#
# The system's apt configuration is left alone: the download uses a
# private sources list derived at run time from the system's own Debian
# sources, with the suite names replaced, and private lists and caches.
#
# Environment: CRIU_PREFIX (default /opt/towel-criu), CRIU_LINK (default
# /usr/local/sbin/criu), CRIU_SUITE (default forky, Debian 14),
# CRIU_MIN_VERSION (default 4.2).
set -euo pipefail

prefix=${CRIU_PREFIX:-/opt/towel-criu}
link=${CRIU_LINK:-/usr/local/sbin/criu}
suite=${CRIU_SUITE:-forky}
min_version=${CRIU_MIN_VERSION:-4.2}

die() {
	echo "install-criu: $*" >&2
	exit 1
}

log() {
	echo "install-criu: $*" >&2
}

# criu_version BINARY prints BINARY's version ("4.2.1").
criu_version() {
	"$1" --version 2>/dev/null | awk '/^Version:/ { print $2; exit }'
}

# criu_works BINARY reports whether BINARY is recent enough and passes
# `criu check`, which fails when criu cannot make sense of the kernel.
criu_works() {
	local v
	[ -x "$1" ] || return 1
	v=$(criu_version "$1")
	[ -n "$v" ] || return 1
	# sort -V puts the smaller first: $v must not be smaller.
	[ "$(printf '%s\n%s\n' "$min_version" "$v" | sort -V | head -n1)" = "$min_version" ] ||
		return 1
	"$1" check >/dev/null 2>&1
}

# own_codename prints the system's Debian codename (bookworm).
own_codename() {
	local codename=
	if [ -r /etc/os-release ]; then
		codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	fi
	[ -n "$codename" ] || die "cannot tell the Debian codename from /etc/os-release"
	echo "$codename"
}

# write_sources DIR writes sources for $suite into DIR (a deb822
# debian.sources, or a one-line sources.list) made from the system's
# Debian sources: the same mirrors and keys, other suite names.
write_sources() {
	local dir=$1 codename f found=0 out
	codename=$(own_codename)
	out=$dir/parts/debian.sources
	: >"$out"
	: >"$dir/sources.list"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		grep -q "^Suites:.*\b$codename\b" "$f" || continue
		# Every suite of the system's release (bookworm,
		# bookworm-updates, bookworm-security) becomes the same suite
		# of the next release; stanzas of other archives are dropped.
		awk -v old="$codename" -v new="$suite" '
			BEGIN { RS = ""; ORS = "\n\n" }
			$0 ~ "Suites:[^\n]*" old {
				gsub("(^|[ \t])" old, " " new)
				gsub("\n ", "\n")
				sub("^ ", "")
				print
			}
		' "$f" >>"$out"
		found=1
	done
	if [ "$found" = 0 ]; then
		out=$dir/sources.list
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			awk -v old="$codename" -v new="$suite" '
				$1 == "deb" {
					for (i = 2; i <= NF; i++) {
						if ($i == old || index($i, old "-") == 1 || index($i, old "/") == 1) {
							sub("^" old, new, $i)
							print
							next
						}
					}
				}
			' "$f" >>"$out"
		done
	fi
	grep -q . "$out" || die "no Debian $codename sources found under /etc/apt"
}

# fetch DIR downloads criu and the library packages it needs, directly
# or through other libraries, into DIR.
fetch() {
	local dir=$1 state=$1/apt pkgs
	mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/parts" \
		"$state/prefs"
	write_sources "$state"

	local apt_opts=(
		-o "Dir::Etc::sourcelist=$state/sources.list"
		-o "Dir::Etc::sourceparts=$state/parts"
		-o "Dir::Etc::preferencesparts=$state/prefs"
		-o "Dir::State::Lists=$state/lists"
		-o "Dir::Cache=$state/cache"
		-o "Dir::Cache::pkgcache="
		-o "Dir::Cache::srcpkgcache="
		-o "APT::Sandbox::User=root"
		-o "Debug::NoLocking=1"
	)
	# deb822 files name their keyring in Signed-By; a one-line list
	# relies on the trusted keyrings, which hold the next release's keys.
	log "reading the $suite package lists"
	apt-get "${apt_opts[@]}" -qq update >"$state/update.log" 2>&1 ||
		{ tail -n 5 "$state/update.log" >&2; die "apt-get update for $suite failed"; }

	# The dependency closure, limited to criu and shared libraries: the
	# programs criu runs (ip, iptables) come from the system as they are.
	mapfile -t pkgs < <(
		apt-cache "${apt_opts[@]}" depends --recurse --no-recommends \
			--no-suggests --no-conflicts --no-breaks --no-replaces \
			--no-enhances criu 2>/dev/null |
			awk '/^[a-z0-9]/ { print $1 }' |
			grep -E '^(criu|lib[a-z0-9.+-]+)$' | sort -u
	)
	[ "${#pkgs[@]}" -gt 1 ] || die "criu is not in $suite"
	log "downloading ${pkgs[*]}"
	(cd "$dir" && apt-get "${apt_opts[@]}" -qq download "${pkgs[@]}") \
		>"$state/download.log" 2>&1 ||
		{ tail -n 5 "$state/download.log" >&2; die "apt-get download failed"; }
}

# unpack DIR ROOT extracts every .deb in DIR under ROOT.
unpack() {
	local dir=$1 root=$2 deb
	mkdir -p "$root"
	for deb in "$dir"/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
}

# relink ROOT OUT makes OUT, a copy of ROOT's criu that runs with ROOT's
# loader and finds ROOT's libraries first. DT_RPATH (not RUNPATH) is set,
# because the loader applies it to the libraries' own dependencies too.
relink() {
	local root=$1 out=$2 loader libdirs=() d
	loader=$(find "$root" -name 'ld-linux*.so*' \( -type f -o -type l \) | sort | head -n1)
	[ -n "$loader" ] || die "no dynamic loader in the unpacked libc"
	loader=$(readlink -f "$loader")
	while read -r d; do
		libdirs+=("$d")
	done < <(find "$root" -name 'lib*.so*' \( -type f -o -type l \) -printf '%h\n' | sort -u)

	command -v patchelf >/dev/null || die "patchelf not found (apt-get install patchelf)"
	cp "$root/usr/sbin/criu" "$out.new"
	patchelf --set-interpreter "$loader" "$out.new"
	patchelf --force-rpath --set-rpath "$(IFS=:; echo "${libdirs[*]}")" "$out.new"
	mv "$out.new" "$out"
}

work=
cleanup() {
	[ -z "$work" ] || rm -rf "$work"
}

main() {
	local force=0 current
	[ "${1:-}" = --force ] && force=1

	current=$(command -v criu || true)
	if [ "$force" = 0 ] && [ -n "$current" ] && criu_works "$current"; then
		log "using $current (criu $(criu_version "$current"))"
		return
	fi
	[ "$(id -u)" = 0 ] || die "criu is missing or does not work here; run as root to install one"
	if [ -n "$current" ] && ! criu_works "$current"; then
		log "$current (criu $(criu_version "$current")) is older than $min_version or fails 'criu check'"
	fi

	if [ "$force" = 1 ] || ! criu_works "$prefix/sbin/criu"; then
		command -v apt-get >/dev/null || die "apt-get not found"
		command -v patchelf >/dev/null || {
			log "installing patchelf"
			export DEBIAN_FRONTEND=noninteractive
			apt-get install -y -qq --no-install-recommends patchelf >/dev/null 2>&1 || {
				apt-get update -qq
				apt-get install -y -qq --no-install-recommends patchelf >/dev/null
			}
		}
		work=$(mktemp -d /tmp/towel-criu.XXXXXX)
		trap cleanup EXIT
		fetch "$work"
		rm -rf "$prefix.new"
		unpack "$work" "$prefix.new/root"
		mkdir -p "$prefix.new/sbin"
		# The loader and rpath name the final prefix, so the move
		# below must keep the same path.
		rm -rf "$prefix.old"
		[ -e "$prefix" ] && mv "$prefix" "$prefix.old"
		mv "$prefix.new" "$prefix"
		relink "$prefix/root" "$prefix/sbin/criu"
		rm -rf "$prefix.old"
		criu_works "$prefix/sbin/criu" || {
			"$prefix/sbin/criu" check >&2 || true
			die "the unpacked criu $(criu_version "$prefix/sbin/criu") is older than $min_version or fails 'criu check'"
		}
	fi

	mkdir -p "$(dirname "$link")"
	ln -sfn "$prefix/sbin/criu" "$link"
	hash -r
	current=$(command -v criu || true)
	if [ "$current" != "$link" ]; then
		die "$link is installed but $current comes first in PATH"
	fi
	log "installed $link (criu $(criu_version "$link"))"
}

main "$@"
