#!/usr/bin/env bash
# Build labrun/web-server:0.1.0 from this directory: a statically linked release binary, then
# a FROM scratch image holding only it. Usage: build-image.sh [TAG]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-labrun/web-server:0.1.0}"
target="${WEB_SERVER_TARGET_DIR:-$here/target}"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet \
  --manifest-path "$here/Cargo.toml" --target-dir "$target" --target x86_64-unknown-linux-gnu
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$target/x86_64-unknown-linux-gnu/release/web-server" "$context/web-server"
docker build --quiet -t "$tag" -f "$here/Dockerfile" "$context"
