#!/bin/sh
# inbound.sh: the seed's topology, on top of topology.sh (run that first):
#
#   lan    namespace: becomes the LAN itself, a bridge br0 holding the Pi's
#                     peer (lan0) and the main router's LAN port; the home
#                     device is the namespace's own address on br0,
#                     192.168.7.10, default via the Pi (192.168.7.1) unless
#                     a scenario moves it to the main router
#   router namespace: the main router, LAN 192.168.7.254 (rlan), its own
#                     wired uplink 192.0.2.2/24 (wan0) to the isp namespace
#                     (192.0.2.1); it masquerades the LAN out of wan0 and
#                     port-forwards wan0 tcp 9000 to the Pi and udp 51820
#                     (the VPN) to the home device, source address intact
#   root namespace:   the Pi; its own default route is via the main router
#                     (replace mode displaces it while cellular is up)
#   isp    namespace: the internet: the carrier's pppd, the internet host
#                     198.51.100.10 (the checker and the VPN client bind to
#                     it) and the wired ISP's side of the router's uplink
set -eu
# The LAN as a bridge: the Pi, the home device and the main router on it.
ip -n lan link add br0 type bridge
ip -n lan link set br0 up
ip -n lan addr del 192.168.7.10/24 dev lan0
ip -n lan -6 addr del fd07::10/64 dev lan0
ip -n lan addr add 192.168.7.10/24 dev br0
ip -n lan -6 addr add fd07::10/64 dev br0 nodad
ip -n lan link set lan0 master br0
ip -n lan route replace default via 192.168.7.1
ip -n lan -6 route replace default via fd07::1

# The main router.
ip netns add router
ip -n router link set lo up
ip link add rlan netns router type veth peer name lanr netns lan
ip -n lan link set lanr master br0
ip -n lan link set lanr up
ip -n router addr add 192.168.7.254/24 dev rlan
ip -n router link set rlan up
ip link add wan0 netns router type veth peer name rwan netns isp
ip -n router addr add 192.0.2.2/24 dev wan0
ip -n router link set wan0 up
ip -n isp addr add 192.0.2.1/24 dev rwan
ip -n isp link set rwan up
ip -n router route add default via 192.0.2.1
ip netns exec router sysctl -qw net.ipv4.ip_forward=1
ip netns exec router iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
ip netns exec router iptables -t nat -A PREROUTING -i wan0 -p tcp --dport 9000 -j DNAT --to-destination 192.168.7.1:9000
ip netns exec router iptables -t nat -A PREROUTING -i wan0 -p udp --dport 51820 -j DNAT --to-destination 192.168.7.10:51820

# The Pi's own default route: the main router.
ip route replace default via 192.168.7.254 dev eth0
