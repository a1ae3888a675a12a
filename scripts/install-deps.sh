#!/usr/bin/env bash
# Installs what is missing: Debian packages (apt-get, through sudo when not root) and npm dependencies.
# Sourced by scripts/start and scripts/test; safe to run again (it skips what is present).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages Strata and its tests use, keyed by a file each one installs.
declare -A apt_packages=(
  [qemu-system-x86]=/usr/bin/qemu-system-x86_64
  [qemu-utils]=/usr/bin/qemu-img
  [libnbd-bin]=/usr/bin/nbdinfo
  [nbdkit]=/usr/bin/nbdkit
  [fio]=/usr/bin/fio
  [awscli]=/usr/bin/aws
  [postgresql]=/usr/lib/postgresql
  [syslinux]=/usr/bin/syslinux
  [syslinux-common]=/usr/lib/syslinux/mbr/mbr.bin
  [mtools]=/usr/bin/mcopy
  [dosfstools]=/usr/sbin/mkfs.fat
  [e2fsprogs]=/usr/sbin/mke2fs
  [busybox-static]=/bin/busybox
  [linux-image-cloud-amd64]=/boot/vmlinuz-*-cloud-amd64
  [cpio]=/usr/bin/cpio
  [procps]=/usr/bin/pkill
  [openssl]=/usr/bin/openssl
  [systemd]=/usr/bin/systemd-analyze
)

missing=()
for pkg in "${!apt_packages[@]}"; do
  # shellcheck disable=SC2086 # the path may be a glob
  if ! compgen -G ${apt_packages[$pkg]} >/dev/null; then missing+=("$pkg"); fi
done

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "strata: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ ! -d "$root/node_modules" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "strata: installing npm dependencies" >&2
  (cd "$root" && npm ci --no-audit --no-fund >&2)
fi
