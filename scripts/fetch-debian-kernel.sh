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

# The modules that let the same kernel, run by QEMU with an emulated AMD CPU, provide /dev/kvm
# (kvm_amd on emulated SVM) and see the host's files over 9p (scripts/kvm-nested.mjs), with every
# module they depend on, as the modules' own `depends=` say.
nested_modules="kvm-amd virtio_pci 9pnet_virtio 9p"

if [ ! -s vmlinuz ] || [ ! -e modules/.complete ]; then
  if [ -s vmlinuz.package ]; then
    image=$(cat vmlinuz.package)
  else
    apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -qq
    image=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  fi
  fetch "$image"
  cp scratch/root/boot/vmlinuz-* vmlinuz
  echo "$image" > vmlinuz.package
  rm -rf modules && mkdir modules
  queue=($nested_modules)
  while [ ${#queue[@]} -gt 0 ]; do
    m=${queue[0]}
    queue=("${queue[@]:1}")
    [ -e "modules/$m.ko" ] || [ -e "modules/${m//_/-}.ko" ] && continue
    ko=$(find scratch/root/lib/modules \( -name "$m.ko" -o -name "${m//_/-}.ko" \) | head -1)
    [ -n "$ko" ] || { echo "fetch-debian-kernel: $image has no module $m" >&2; exit 1; }
    cp "$ko" modules/
    queue+=($(grep -a -o 'depends=[a-z0-9_,-]*' "$ko" | head -1 | sed 's/^depends=//' | tr ',' ' '))
  done
  touch modules/.complete
fi
if [ ! -s busybox ]; then
  fetch busybox-static
  cp scratch/root/bin/busybox busybox
fi
# The QEMU that emulates the nested VM: 10.0 from bookworm-backports, unpacked here and used by
# nothing else. Debian 12's QEMU 7.2 has TCG bugs that hang kvm_amd in there now and then.
if [ ! -x qemu/usr/bin/qemu-system-x86_64 ]; then
  rm -rf scratch qemu && mkdir -p scratch/lists/partial scratch/cache qemu
  echo "deb http://deb.debian.org/debian bookworm-backports main" > scratch/sources.list
  apt_private=(-o "Dir::Etc::SourceList=$PWD/scratch/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$PWD/scratch/lists" -o "Dir::Cache=$PWD/scratch/cache" -o APT::Get::List-Cleanup=0)
  apt-get "${apt_private[@]}" update -qq
  (cd scratch && apt-get "${apt_private[@]}" download qemu-system-x86 qemu-system-data seabios)
  for deb in scratch/*.deb; do dpkg-deb -x "$deb" qemu; done
  qemu/usr/bin/qemu-system-x86_64 --version | head -1
fi
rm -rf scratch
ls -l vmlinuz busybox
ls modules
