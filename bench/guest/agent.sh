#!/bin/sh
# agent.sh: run the bench agent on the virtio port named bench.agent.
for d in /sys/class/virtio-ports/*; do
  [ "$(cat "$d/name" 2>/dev/null)" = bench.agent ] && exec /mnt/bin/bench-agent "/dev/$(basename "$d")"
done
echo "agent.sh: no virtio port named bench.agent" >&2
exit 1
