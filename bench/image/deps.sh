#!/bin/sh
# bench/image/deps.sh: what the ARM bench VMs need beyond .ci/deps (as root
# on Debian 12): qemu's ARM system emulators, mmdebstrap for the root file
# systems, and qemu-user registered with binfmt_misc so that the ARM
# packages' maintainer scripts run while mmdebstrap installs them. Safe to
# run again.
set -eu
pkgs="qemu-system-arm mmdebstrap arch-test qemu-user-static"
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "bench deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# A container or a fresh VM may have binfmt_misc unmounted, and no
# systemd-binfmt to register the handlers qemu-user-static ships.
b=/proc/sys/fs/binfmt_misc
[ -e $b/register ] || mount -t binfmt_misc binfmt_misc $b
for a in arm aarch64; do
  [ -e $b/qemu-$a ] || cat /usr/lib/binfmt.d/qemu-$a.conf > $b/register
done
for a in armhf arm64; do
  arch-test "$a" >/dev/null || { echo "bench deps: $a binaries do not run here (binfmt_misc)" >&2; exit 1; }
done
