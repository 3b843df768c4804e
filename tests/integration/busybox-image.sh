#!/bin/bash
# busybox-image.sh writes an OCI image archive of the static busybox
# rootfs that script/mkbundle.sh makes, for `ctr image import` and
# `podman load`; no registry is involved.
#
#   tests/integration/busybox-image.sh OUT.tar [NAME]
#
# NAME (default localhost/towel-busybox:latest) is recorded in index.json
# as io.containerd.image.name (read by ctr) and as
# org.opencontainers.image.ref.name (read by podman). The layout is the
# image-spec's "OCI Image Layout": oci-layout, index.json, and blobs/sha256/
# holding an uncompressed layer tar, the image config and the manifest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkbundle=$here/../../script/mkbundle.sh

[ $# -ge 1 ] || { echo "usage: $0 OUT.tar [NAME]" >&2; exit 2; }
out=$1
name=${2:-localhost/towel-busybox:latest}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$mkbundle" "$work/bundle" busybox sh >/dev/null
layout=$work/layout
mkdir -p "$layout/blobs/sha256"

# blob FILE stores FILE under its digest and prints "DIGEST SIZE".
blob() {
	local sum size
	sum=$(sha256sum "$1" | cut -d' ' -f1)
	size=$(stat -c %s "$1")
	mv "$1" "$layout/blobs/sha256/$sum"
	echo "sha256:$sum $size"
}

# A fixed order, owner and time make the same rootfs give the same digest.
tar -C "$work/bundle/rootfs" --sort=name --numeric-owner --mtime=@0 \
	-cf "$work/layer.tar" .
read -r layer_digest layer_size < <(blob "$work/layer.tar")

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
jq -n --arg arch "$arch" --arg diff "$layer_digest" '{
	architecture: $arch,
	os: "linux",
	config: {
		Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
		Cmd: ["sh"],
		WorkingDir: "/"
	},
	rootfs: {type: "layers", diff_ids: [$diff]},
	history: [{created_by: "tests/integration/busybox-image.sh"}]
}' >"$work/config.json"
read -r config_digest config_size < <(blob "$work/config.json")

jq -n --arg cd "$config_digest" --argjson cs "$config_size" \
	--arg ld "$layer_digest" --argjson ls "$layer_size" '{
	schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json",
		digest: $cd, size: $cs},
	layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar",
		digest: $ld, size: $ls}]
}' >"$work/manifest.json"
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")

jq -n --arg md "$manifest_digest" --argjson ms "$manifest_size" \
	--arg name "$name" --arg arch "$arch" '{
	schemaVersion: 2,
	mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: [{
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		digest: $md, size: $ms,
		platform: {architecture: $arch, os: "linux"},
		annotations: {
			"io.containerd.image.name": $name,
			"org.opencontainers.image.ref.name": $name
		}
	}]
}' >"$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

tar -C "$layout" --sort=name --numeric-owner --mtime=@0 -cf "$out.tmp" .
mv "$out.tmp" "$out"
