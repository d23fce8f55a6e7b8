#!/usr/bin/env bash
# Build labrun/dnsutils:0.1.0, the lab's DNS utilities pod image: Debian's `host` and `dig`
# (bind9-host, bind9-dnsutils, with what they depend on) and busybox's `sh`, `wget`, `sleep`,
# on a root filesystem made from Debian's packages. No base image is pulled.
# Usage: build-image.sh [TAG]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-labrun/dnsutils:0.1.0}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
"$here/../images/rootfs.sh" "$context/rootfs" debs bind9-host bind9-dnsutils
"$here/../images/rootfs.sh" "$context/rootfs" busybox sh wget sleep cat ls nslookup
docker build --quiet -t "$tag" -f "$here/Dockerfile" "$context" >/dev/null
echo "$tag"
