#!/bin/sh
# packaging/deps.sh: install what `make deb` and the packaging tests need on a
# fresh Debian 12 machine (as root): the armhf and arm64 cross compilers and
# libusb for cgo (gousb), lintian, qemu user emulation to run the ARM binaries,
# and systemd-analyze. Safe to run again: it does nothing when all is present.
set -eu

archs="armhf arm64"
pkgs="gcc pkg-config libusb-1.0-0-dev dpkg-dev lintian systemd
gcc-arm-linux-gnueabihf libc6-dev-armhf-cross libusb-1.0-0-dev:armhf
gcc-aarch64-linux-gnu libc6-dev-arm64-cross libusb-1.0-0-dev:arm64
qemu-user-static"

for a in $archs; do
  if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
    echo "deps.sh: adding dpkg architecture $a"
    dpkg --add-architecture "$a"
  fi
done

missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing:$missing (run as root to install)" >&2
    exit 1
  fi
  echo "deps.sh: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  # A mirror in mid-sync can fail one index (often a foreign-arch one); the
  # install below still works from the others, and fails loudly if it cannot.
  apt-get update -qq || echo "deps.sh: apt-get update reported errors; trying the install anyway" >&2
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
