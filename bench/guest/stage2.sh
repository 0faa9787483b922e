#!/bin/sh
# Second stage inside the bench VM: the host's root is mounted read-only with a
# tmpfs overlay, the test's work directory is /mnt. Prepare a fresh /run, load
# the drivers the bench needs, then run the agent that executes the test's
# commands. This shell stays PID 1 so orphaned processes are reaped.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/lock /run/failberry /var/lib/failberry
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
[ -e /dev/ppp ] || true
hostname bench
for m in virtio_console xhci_pci ftdi_sio usbnet cdc_ether rndis_host virtio_net ppp_async ppp_generic ppp_deflate bsd_comp veth dummy \
         nf_conntrack nf_conntrack_netlink iptable_nat iptable_filter iptable_mangle ip6table_filter ip6table_nat ip6table_mangle \
         nft_compat nft_chain_nat nft_ct xt_MASQUERADE xt_conntrack xt_tcpudp xt_TCPMSS xt_REJECT xt_multiport xt_comment \
         nf_reject_ipv4 nf_reject_ipv6 ipt_REJECT ip6t_REJECT; do
  modprobe -q "$m" 2>/dev/null
done
ip link set lo up
here=$(dirname "$0")
if grep -q bench.systemd=1 /proc/cmdline; then
  echo "bench: stage2 ready, booting systemd" > /dev/console
  exec /bin/sh "$here/systemd-init.sh"
fi
echo "bench: stage2 ready" > /dev/console
/bin/sh "$here/agent.sh" > /mnt/agent.log 2>&1 &
while :; do wait; sleep 1; done
