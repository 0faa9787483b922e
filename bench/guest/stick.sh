#!/bin/sh
# stick.sh nic|router|blackhole on|off: the far side of the bench's
# network-card stick (qemu usb-net on hub port 4), played by a router in the
# "stick" namespace, as a HiLink stick's own router is:
#   nic     (before topology.sh) moves the virtio NIC wired to the stick's USB
#           side into the stick namespace as stk0
#   router  (after topology.sh) gives it 192.168.8.1/24, a DHCP server
#           (busybox udhcpd, 20 s leases from 192.168.8.100) and an uplink
#           wan0 (10.99.0.2/30) into the carrier's isp namespace, NATed
#   blackhole on|off: the stick's router stops (or resumes) forwarding while
#           its DHCP server goes on answering: "connected, no traffic"
set -eu
case "$1" in
nic)
  command -v udevadm >/dev/null && udevadm settle -t 10 2>/dev/null || true
  nic=
  for d in /sys/class/net/*; do
    drv=$(readlink "$d/device/driver" 2>/dev/null || true)
    [ "${drv##*/}" = virtio_net ] && nic=${d##*/}
  done
  [ -n "$nic" ] || { echo "stick.sh: no virtio NIC for the stick's router" >&2; exit 1; }
  ip netns add stick
  ip link set "$nic" netns stick
  ip -n stick link set "$nic" name stk0
  ;;
router)
  ip -n stick link set lo up
  ip -n stick addr add 192.168.8.1/24 dev stk0
  ip -n stick link set stk0 up
  ip link add wan0 netns stick type veth peer name stick0 netns isp
  ip -n stick addr add 10.99.0.2/30 dev wan0
  ip -n stick link set wan0 up
  ip -n isp addr add 10.99.0.1/30 dev stick0
  ip -n isp link set stick0 up
  ip -n stick route add default via 10.99.0.1
  ip netns exec stick sysctl -qw net.ipv4.ip_forward=1
  printf '*nat\n-A POSTROUTING -o wan0 -j MASQUERADE\nCOMMIT\n' | ip netns exec stick iptables-restore -w
  cat > /run/stick-udhcpd.conf <<CONF
start 192.168.8.100
end 192.168.8.150
interface stk0
lease_file /run/stick-udhcpd.leases
pidfile /run/stick-udhcpd.pid
min_lease 20
option subnet 255.255.255.0
option router 192.168.8.1
option dns 192.168.8.1
option lease 20
CONF
  : > /run/stick-udhcpd.leases
  ;;
blackhole)
  case "$2" in
  on) ip netns exec stick iptables -w -I FORWARD -j DROP ;;
  off) while ip netns exec stick iptables -w -D FORWARD -j DROP 2>/dev/null; do :; done ;;
  *) echo "usage: $0 blackhole on|off" >&2; exit 2 ;;
  esac
  ;;
*) echo "usage: $0 nic|router|blackhole on|off" >&2; exit 2 ;;
esac
