#!/bin/sh
# vpn-home.sh PORT [LOG]: the home device's "VPN server" on a UDP port, run in
# the lan namespace. Each datagram is answered with "pong <line>" from the
# same port, and "<port> <line> from <sender>" is appended to LOG (default
# /mnt/home-udp.log), so a scenario sees what reached the home device.
port=$1 log=${2:-/mnt/home-udp.log}
if [ "${3:-}" = answer ]; then
  read -r line
  echo "$port $line from $SOCAT_PEERADDR" >> "$log"
  echo "pong $line"
  exit 0
fi
exec socat UDP-RECVFROM:"$port",fork SYSTEM:"/bin/sh $0 $port $log answer"
