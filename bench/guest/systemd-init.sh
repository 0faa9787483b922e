#!/bin/sh
# systemd-init.sh: boot real systemd in the bench VM (for the unit, the
# journal and the .deb). The root is the host's, read-only with a tmpfs
# overlay, so anything written here lives only as long as the VM. The default
# target becomes bench.target: basic.target plus the bench agent, so none of
# the host's own services start; failberry.service is started by its .deb.
set -e
here=$(dirname "$0")
# The host may be a container image: its policy-rc.d forbids maintainer
# scripts to start services and /.dockerenv makes systemd think it runs in a
# container. A Pi has neither; remove them from the VM's overlay.
rm -f /usr/sbin/policy-rc.d /.dockerenv
u=/etc/systemd/system
cat > $u/bench.target <<UNIT
[Unit]
Description=failberry bench
Requires=basic.target
After=basic.target
Wants=bench-agent.service
AllowIsolate=yes
UNIT
cat > $u/bench-agent.service <<UNIT
[Unit]
Description=failberry bench agent
DefaultDependencies=no
After=systemd-udevd.service
[Service]
ExecStart=/bin/sh $here/agent.sh
StandardOutput=append:/mnt/agent.log
StandardError=append:/mnt/agent.log
UNIT
ln -sf $u/bench.target $u/default.target
# An ARM guest boots its own root file system (bench/image/mkrootfs.sh), a
# Raspberry Pi OS look-alike: its services start as on a Pi (NetworkManager
# among them), the agent besides.
if grep -q bench.own=1 /proc/cmdline; then
  sed -i 's/^Requires=basic.target$/Requires=multi-user.target/; s/^After=basic.target$/After=multi-user.target/' $u/bench.target
fi
for s in apparmor.service systemd-timesyncd.service systemd-pstore.service postgresql.service \
         serial-getty@ttyS0.service serial-getty@ttyS1.service serial-getty@ttyAMA0.service getty@tty1.service \
         systemd-networkd.service systemd-resolved.service ModemManager.service; do
  ln -sf /dev/null $u/$s
done
: > /etc/machine-id
exec /lib/systemd/systemd
