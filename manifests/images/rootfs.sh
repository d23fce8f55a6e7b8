#!/usr/bin/env bash
# Fill a root filesystem from Debian's packages, for images built where no registry can be
# reached (docker import, or FROM scratch with the tree copied in).
#   rootfs.sh DIR busybox TOOL...    Debian's busybox-static as DIR/bin/busybox, and a link to it
#                                    for each TOOL (sh, ip, ps, wget, …)
#   rootfs.sh DIR debs PACKAGE...    the packages and everything they depend on (no
#                                    recommendations), unpacked into DIR
set -euo pipefail
dir="$1" what="$2"
shift 2
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
download() {
  if ! apt-get download "$@" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get download "$@" >/dev/null
  fi
}
case "$what" in
  busybox)
    download busybox-static
    dpkg-deb -x busybox-static_*.deb pkg
    mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
    cp pkg/bin/busybox "$dir/bin/busybox"
    for tool in "$@"; do
      ln -sf busybox "$dir/bin/$tool"
    done
    ;;
  debs)
    apt-cache show "$@" >/dev/null 2>&1 || apt-get update -qq
    # the closure of Depends and Pre-Depends; virtual packages (<name>) are left to the
    # real packages that provide them, which the closure lists too
    mapfile -t packages < <(apt-cache depends --recurse --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances "$@" | grep '^[a-z0-9]' | sort -u)
    download "${packages[@]}"
    for deb in ./*.deb; do
      dpkg-deb -x "$deb" "$dir"
    done
    ;;
  *)
    echo "rootfs.sh: unknown kind of content: $what (busybox or debs)" >&2
    exit 2
    ;;
esac
