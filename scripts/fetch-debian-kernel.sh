#!/usr/bin/env bash
# Fetch Debian's stock kernel (linux-image-amd64) and busybox-static into build/cache, for the Linux
# tests and benchmarks. Nothing here is committed: the cache is rebuilt on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=build/cache
mkdir -p "$cache"
cd "$cache"
export DEBIAN_FRONTEND=noninteractive

fetch() { # fetch PACKAGE: download a .deb into a scratch folder and unpack it there
  rm -rf scratch && mkdir scratch && (cd scratch && apt-get download "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$1"; })
  dpkg-deb -x scratch/*.deb scratch/root
}

if [ ! -s vmlinuz ]; then
  apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -qq
  image=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  fetch "$image"
  cp scratch/root/boot/vmlinuz-* vmlinuz
  echo "$image" > vmlinuz.package
fi
if [ ! -s busybox ]; then
  fetch busybox-static
  cp scratch/root/bin/busybox busybox
fi
rm -rf scratch
ls -l vmlinuz busybox
