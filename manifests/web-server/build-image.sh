#!/usr/bin/env bash
# Build labrun/web-server:0.1.0 from this directory: a statically linked release binary, then
# a FROM scratch image holding it and Debian's busybox-static (sh, ip, ps, wget, …, for the
# lab's steps inside the pod). Usage: build-image.sh [TAG]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-labrun/web-server:0.1.0}"
target="${WEB_SERVER_TARGET_DIR:-$here/target}"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet \
  --manifest-path "$here/Cargo.toml" --target-dir "$target" --target x86_64-unknown-linux-gnu
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$target/x86_64-unknown-linux-gnu/release/web-server" "$context/web-server"
"$here/../images/rootfs.sh" "$context/rootfs" busybox sh ip ps wget cat ls hostname sleep env
echo "nobody:x:65534:65534:nobody:/:/bin/sh" > "$context/rootfs/etc/passwd"
docker build --quiet -t "$tag" -f "$here/Dockerfile" "$context"
