#!/usr/bin/env bash
# Makes the local Debian base image that the image tests build from, where Docker Hub can't be
# reached: debootstrap (minbase) from this machine's Debian mirror, imported with `docker import`.
# The root file system is cached as a tarball under $EDGECODER_CACHE, so a second run only
# imports it (or does nothing when the image is there). Prints the image name as the last line.
#
#   EDGECODER_DEBIAN_SUITE    Debian release (default bookworm)
#   EDGECODER_DEBIAN_MIRROR   mirror (default: the first in /etc/apt/sources.list*, else deb.debian.org)
set -euo pipefail
suite="${EDGECODER_DEBIAN_SUITE:-bookworm}"
cache="${EDGECODER_CACHE:-$HOME/.cache/edgecoder}/docker-base"
image="edgecoder-base:$suite"
docker_cli="${DOCKER:-docker}"

mirror="${EDGECODER_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -oE 'https?://[^ ]+' | head -n 1 || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi
# The rootfs depends only on suite and package list; the key names both.
key="$suite-minbase-v1"
tarball="$cache/$key.tar.gz"

if "$docker_cli" image inspect "$image" --format '{{index .Config.Labels "edgecoder.base"}}' 2>/dev/null | grep -qx "$key"; then
  echo "$image"
  exit 0
fi
if [ ! -s "$tarball" ]; then
  [ "$(id -u)" = 0 ] || { echo "edgecoder: debootstrap needs root" >&2; exit 1; }
  command -v debootstrap >/dev/null 2>&1 || { echo "edgecoder: debootstrap not found (apt-get install -y debootstrap)" >&2; exit 1; }
  mkdir -p "$cache"
  root="$(mktemp -d "$cache/.rootfs.XXXXXX")"
  trap 'rm -rf "$root" "$tarball.partial"' EXIT
  echo "edgecoder: debootstrap $suite from $mirror (once; cached in $cache)" >&2
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >&2
  # apt's lists and caches are not part of a base image.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" --numeric-owner -czf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi
echo "edgecoder: importing $tarball as $image" >&2
"$docker_cli" import --change "LABEL edgecoder.base=$key" --change 'CMD ["/bin/bash"]' "$tarball" "$image" >&2
echo "$image"
