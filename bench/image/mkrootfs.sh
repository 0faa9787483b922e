#!/bin/sh
# mkrootfs.sh ARCH DIR: a Debian bookworm root file system for an ARM bench VM
# (ARCH armhf or arm64), from Debian's packages, into DIR (which must not
# exist). The bench caches it under a name hashed from this file, so editing
# the package list below rebuilds it. Needs root, mmdebstrap and qemu-user
# registered with binfmt_misc (.ci/binfmt) for the packages' maintainer
# scripts.
#
# It is a freshly flashed Raspberry Pi OS bookworm, as far as failberry can
# tell: systemd as init, udev, NetworkManager managing eth0 by DHCP through
# the profile "Wired connection 1", no ModemManager (Pi OS Lite has none; a
# desktop image has one, which the .deb's udev rule keeps off the modem).
# Besides, what the bench's guest side runs: pppd for the carrier, iptables,
# socat, dnsmasq (the main router's DHCP), busybox for the initramfs, and
# Debian's kernel for the architecture (qemu's virt machine).
set -eu
arch=$1 dir=$2
mirror=${FAILBERRY_BENCH_MIRROR:-http://deb.debian.org/debian}
case "$arch" in
armhf) kernel=linux-image-armmp-lpae ;;
arm64) kernel=linux-image-arm64 ;;
*) echo "mkrootfs.sh: unknown architecture $arch (want armhf or arm64)" >&2; exit 2 ;;
esac
pkgs="systemd systemd-sysv udev dbus kmod procps iproute2 iptables ppp libusb-1.0-0
network-manager dnsmasq-base socat iputils-ping conntrack uhubctl busybox-static $kernel"
[ ! -e "$dir" ] || { echo "mkrootfs.sh: $dir exists" >&2; exit 2; }

# INITRD=No: the kernel's postinst skips update-initramfs (minutes under
# qemu-user); the bench boots its own initramfs (bench/guest/mkinitramfs.sh).
INITRD=No mmdebstrap --quiet --mode=root --variant=minbase --arch="$arch" \
	--include="$(echo $pkgs | tr ' ' ,)" \
	--customize-hook='echo bench > "$1/etc/hostname"' \
	--customize-hook=': > "$1/etc/fstab"' \
	--customize-hook='d="$1/etc/NetworkManager/system-connections"; mkdir -p "$d"; printf "%s\n" \
		"[connection]" "id=Wired connection 1" "type=ethernet" "interface-name=eth0" "autoconnect=true" \
		"" "[ipv4]" "method=auto" "" "[ipv6]" "method=auto" > "$d/Wired connection 1.nmconnection"; \
		chmod 600 "$d/Wired connection 1.nmconnection"' \
	bookworm "$dir" "$mirror"
