#!/bin/sh
# topology.sh: the bench's networks inside the VM.
#   lan  namespace: a home device, 192.168.7.10 (fd07::10), default via the gateway
#   root namespace: the gateway (the Pi), eth0 = 192.168.7.1 (fd07::1) towards the LAN
#                   (a lease from the LAN's router where NetworkManager runs)
#   isp  namespace: the carrier's pppd on /dev/ttyS1 and an "internet" host,
#                   198.51.100.10 and 2001:db8:100::10 on its loopback
# The carrier gives the gateway 203.0.113.2 (peer 203.0.113.1), or the address in
# $CELL_ADDR when set (a new address after a redial).
set -eu
ip netns add lan
ip netns add isp
ip link add eth0 type veth peer name lan0 netns lan
ip link set eth0 up
ip -n lan addr add 192.168.7.10/24 dev lan0
ip -n lan -6 addr add fd07::10/64 dev lan0 nodad
ip -n lan link set lan0 up
ip -n lan link set lo up
if systemctl -q is-active NetworkManager 2>/dev/null; then
  # A Raspberry Pi OS guest (the ARM bench): NetworkManager manages eth0 by
  # DHCP ("Wired connection 1"), so the LAN's router hands the Pi its
  # address, as a home router does: dnsmasq on lan0 as 192.168.7.254, a
  # 2-minute lease of 192.168.7.1 for eth0's MAC, itself as the router.
  ip -n lan addr add 192.168.7.254/24 dev lan0
  ip netns exec lan dnsmasq --conf-file=/dev/null --port=0 --interface=lan0 --bind-interfaces \
    --dhcp-range=192.168.7.100,192.168.7.200,2m --dhcp-host="$(cat /sys/class/net/eth0/address),192.168.7.1,2m" \
    --dhcp-option=option:router,192.168.7.254 --dhcp-leasefile=/run/bench-dnsmasq.leases \
    --pid-file=/run/bench-dnsmasq.pid --log-dhcp --log-facility=/mnt/dnsmasq.log
  n=0
  until ip -4 addr show dev eth0 | grep -q 'inet 192.168.7.1/'; do
    n=$((n + 1)); [ $n -lt 240 ] || { echo "topology.sh: no DHCP lease on eth0 in 120 s" >&2; exit 1; }
    sleep 0.5
  done
else
  ip addr add 192.168.7.1/24 dev eth0
fi
ip -6 addr add fd07::1/64 dev eth0 nodad
ip -n lan route add default via 192.168.7.1
ip -n lan -6 route add default via fd07::1
ip -n isp link set lo up
ip -n isp addr add 198.51.100.10/32 dev lo
ip -n isp -6 addr add 2001:db8:100::10/128 dev lo
ip netns exec isp sysctl -qw net.ipv4.ip_forward=1
