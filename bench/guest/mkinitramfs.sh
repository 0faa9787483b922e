#!/bin/sh
# mkinitramfs.sh KVER OUT [ROOT]: a tiny initramfs (busybox + the modules that
# mount the host's root over virtio-9p with a tmpfs overlay). Built in about a
# second; the kernel is whatever Debian kernel the machine has, never one fixed
# version. ROOT: take busybox and the modules from that root file system (an
# ARM guest's, bench/image/mkrootfs.sh) instead of the machine's own.
set -eu
kver=$1 out=$2 root=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/mods" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/host" "$tmp/newroot" "$tmp/tmp"
cp "$root/bin/busybox" "$tmp/bin/busybox"
for app in sh mount mkdir insmod switch_root sleep cat echo; do ln -s busybox "$tmp/bin/$app"; done
: > "$tmp/mods/order"
for m in virtio_pci 9pnet_virtio 9p overlay; do
  modprobe ${root:+-d "$root"} -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  name=$(basename "$ko")
  case "$ko" in
    *.xz)  xz -dc "$ko" > "$tmp/mods/${name%.xz}"; name=${name%.xz} ;;
    *.zst) zstd -qdc "$ko" > "$tmp/mods/${name%.zst}"; name=${name%.zst} ;;
    *)     cp "$ko" "$tmp/mods/$name" ;;
  esac
  echo "$name" >> "$tmp/mods/order"
done
cat > "$tmp/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m || echo "insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /host || { echo "mount hostroot failed"; exec sh; }
mount -t tmpfs tmpfs /tmp
mkdir -p /tmp/upper /tmp/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/tmp/upper,workdir=/tmp/work /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 work /newroot/mnt
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
stage2=$(sed -n 's/.*bench.stage2=\([^ ]*\).*/\1/p' /newroot/proc/cmdline)
exec switch_root /newroot /bin/sh "${stage2:-/mnt/stage2.sh}"
INIT
ln -s busybox "$tmp/bin/sed"
chmod +x "$tmp/init"
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
