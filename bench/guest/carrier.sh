#!/bin/sh
# carrier.sh: the carrier's side of the PPP link, run in the isp namespace on
# /dev/ttyS1 (relayed by the simulated modem while a call is up). It waits
# silently for the gateway's LCP, renegotiates when a new call starts, and
# never exits: a real network does not go away when one call ends.
#
# silent, not passive: with passive, pppd sends Configure-Requests into the
# line between calls (the modem drops them) and, once the gateway's request
# arrives, only acks it and leaves its own to its 3 s restart timer, so every
# dial waited a random 0 to 3 s that a real network's PPP peer (in the modem
# or the GGSN), which answers the first request at once, never adds. silent
# answers the gateway's first Configure-Request with its own at once.
#
# lcp-restart 1: when a call ends (the modem's Terminate-Request on hang-up),
# pppd stays in LCP's Stopping state for one restart interval before it
# reopens the line for the next call, and ignores that call's requests until
# then: with the default 3 s, every redial after a pppd death waited about
# 3 s for the old session's teardown (measured in BenchmarkDial's carrier
# log: three unanswered Configure-Requests). A real network starts each call
# on a fresh PPP endpoint; 1 s keeps the single carrier pppd near that. Both
# dialers' fresh dials start after the teardown either way. The simulated
# modem now follows its Terminate-Request with a Terminate-Ack, which ends
# Stopping at once (modem/sim endSession); the 1 s stays for a call that ends
# any other way.
remote=${CELL_ADDR:-203.0.113.2}
exec ip netns exec isp pppd /dev/ttyS1 115200 local noauth nodetach silent persist maxfail 0 holdoff 0 \
  nodefaultroute noipdefault lcp-echo-interval 1 lcp-echo-failure 3 lcp-restart 1 nodeflate nobsdcomp novj \
  ms-dns 198.51.100.53 +ipv6 ipv6 ::1,::2 "203.0.113.1:$remote" logfd 2 debug
