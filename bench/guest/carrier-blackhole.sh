#!/bin/sh
# carrier-blackhole.sh on|off: the carrier drops every IPv4 and IPv6 packet on
# its PPP interfaces (in the isp namespace) while its pppd goes on answering
# LCP echoes: the link stays up and passes nothing. It lives in the network,
# not in the modem, so it survives modem resets and power cycles. The DROP
# rules sit in a chain of their own that INPUT, OUTPUT and FORWARD jump to;
# "off" empties it. One iptables-restore per family (execs are slow under TCG).
set -eu
case "$1" in on|off) ;; *) echo "usage: $0 on|off" >&2; exit 2 ;; esac
for ipt in iptables ip6tables; do
  rules= jumps=
  [ "$1" = on ] && rules='-A BENCH-BLACKHOLE -i ppp+ -j DROP
-A BENCH-BLACKHOLE -o ppp+ -j DROP'
  ip netns exec isp $ipt -w -n -L BENCH-BLACKHOLE >/dev/null 2>&1 || jumps='-I INPUT -j BENCH-BLACKHOLE
-I OUTPUT -j BENCH-BLACKHOLE
-I FORWARD -j BENCH-BLACKHOLE'
  # ":chain" creates the chain or empties it, even with --noflush.
  printf '*filter\n:BENCH-BLACKHOLE - [0:0]\n%s\n%s\nCOMMIT\n' "$rules" "$jumps" | ip netns exec isp $ipt-restore -w --noflush
done
