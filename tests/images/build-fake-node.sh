#!/usr/bin/env bash
# Build labrun/fake-node:test, the image the Docker-side tests start as stand-ins for kind's
# node containers: a root filesystem holding Debian's busybox-static (a shell, sleep, cat,
# hostname, …), imported with `docker import`. No registry is involved.
set -euo pipefail
tag="${1:-labrun/fake-node:test}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$here/../../manifests/images/rootfs.sh" rootfs busybox \
  sh sleep cat hostname echo ls ps env true false mkdir tar ip nc
echo "root:x:0:0:root:/:/bin/sh" > rootfs/etc/passwd
tar -C rootfs -c . | docker import \
  --change 'ENV PATH=/bin' \
  --change 'CMD ["/bin/sleep", "3600"]' \
  - "$tag" >/dev/null
echo "$tag"
