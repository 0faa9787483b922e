#!/bin/sh
# carrier.sh: the carrier's side of the PPP link, run in the isp namespace on
# /dev/ttyS1 (relayed by the simulated modem while a call is up). It waits
# passively for the gateway's LCP, renegotiates when a new call starts, and
# never exits: a real network does not go away when one call ends.
remote=${CELL_ADDR:-203.0.113.2}
exec ip netns exec isp pppd /dev/ttyS1 115200 local noauth nodetach passive persist maxfail 0 holdoff 0 \
  nodefaultroute noipdefault lcp-echo-interval 1 lcp-echo-failure 3 nodeflate nobsdcomp novj \
  ms-dns 198.51.100.53 +ipv6 ipv6 ::1,::2 "203.0.113.1:$remote" logfd 2 debug
