#!/usr/bin/env bash
# Build labrun/fake-node:test, the image the Docker-side tests start as stand-ins for kind's
# node containers: a root filesystem holding Debian's busybox-static (a shell, sleep, cat,
# hostname, …), imported with `docker import`. No registry is involved.
set -euo pipefail
tag="${1:-labrun/fake-node:test}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download busybox-static >/dev/null 2>&1; then
  apt-get update -qq
  apt-get download busybox-static >/dev/null
fi
dpkg-deb -x busybox-static_*.deb pkg
mkdir -p rootfs/bin rootfs/etc rootfs/tmp
cp pkg/bin/busybox rootfs/bin/busybox
for tool in sh sleep cat hostname echo ls ps env true false mkdir tar; do
  ln -s busybox "rootfs/bin/$tool"
done
echo "root:x:0:0:root:/:/bin/sh" > rootfs/etc/passwd
tar -C rootfs -c . | docker import \
  --change 'ENV PATH=/bin' \
  --change 'CMD ["/bin/sleep", "3600"]' \
  - "$tag" >/dev/null
echo "$tag"
