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
for m in virtio_console xhci_pci ftdi_sio ppp_async ppp_generic ppp_deflate bsd_comp veth dummy \
         nf_conntrack nf_conntrack_netlink iptable_nat iptable_filter iptable_mangle ip6table_filter ip6table_nat ip6table_mangle \
         nft_compat nft_chain_nat nft_ct xt_MASQUERADE xt_conntrack xt_tcpudp xt_TCPMSS xt_REJECT xt_multiport xt_comment \
         nf_reject_ipv4 nf_reject_ipv6 ipt_REJECT ip6t_REJECT; do
  modprobe -q "$m" 2>/dev/null
done
ip link set lo up
# the agent reads requests from the virtio port named bench.agent
port=
for d in /sys/class/virtio-ports/*; do
  [ "$(cat "$d/name" 2>/dev/null)" = bench.agent ] && port=/dev/$(basename "$d")
done
echo "bench: stage2 ready, agent on $port" > /dev/ttyS0
/mnt/bin/bench-agent "$port" > /mnt/agent.log 2>&1 &
while :; do wait; sleep 1; done
