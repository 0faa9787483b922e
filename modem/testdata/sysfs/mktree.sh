#!/bin/bash
# Regenerates the sysfs trees used by modem/discover_test.go. They reproduce the
# kernel's layout (real directories, relative symlinks), for example on a Pi 3:
#   class/tty/ttyUSB2 -> ../../devices/platform/soc/3f980000.usb/usb1/1-1/1-1.2/1-1.2:1.2/ttyUSB2/tty/ttyUSB2
#   .../1-1.2:1.2/ttyUSB2/tty/ttyUSB2/device -> ../../../ttyUSB2
#   .../1-1.2:1.2/driver -> ../../../../../../../../bus/usb/drivers/option
# cdc_acm ttys hang directly under the interface: .../1-1.3:1.0/tty/ttyACM0 with
# device -> ../../../1-1.3:1.0.
set -euo pipefail
cd "$(dirname "$0")"

HOST=devices/platform/soc/3f980000.usb/usb1

# usbdev TREE DEVNAME VID PID PRODUCT
usbdev() {
	local d="$1/$HOST/1-1/$2"
	mkdir -p "$d"
	echo "$3" >"$d/idVendor"; echo "$4" >"$d/idProduct"; echo "$5" >"$d/product"
	echo 1 >"$d/busnum"
}
# usbserial TREE DEVNAME IFNUM CLASS SUB PROTO DRIVER TTY
usbserial() {
	local tree=$1 dev=$2 ifn=$3 i="$1/$HOST/1-1/$2/$2:1.$3"
	mkdir -p "$i/$8/tty/$8" "$tree/bus/usb/drivers/$7" "$tree/class/tty"
	touch "$tree/bus/usb/drivers/$7/uevent"  # git keeps no empty directories
	printf '%02x\n' "$ifn" >"$i/bInterfaceNumber"
	echo "$4" >"$i/bInterfaceClass"; echo "$5" >"$i/bInterfaceSubClass"; echo "$6" >"$i/bInterfaceProtocol"
	ln -sfnr "$tree/bus/usb/drivers/$7" "$i/driver"
	ln -sfn "../../../$8" "$i/$8/tty/$8/device"
	echo "188:$ifn" >"$i/$8/tty/$8/dev"
	ln -sfnr "$i/$8/tty/$8" "$tree/class/tty/$8"
}
# acm TREE DEVNAME IFNUM CLASS SUB PROTO TTY
acm() {
	local tree=$1 i="$1/$HOST/1-1/$2/$2:1.$3"
	mkdir -p "$i/tty/$7" "$tree/bus/usb/drivers/cdc_acm" "$tree/class/tty"
	touch "$tree/bus/usb/drivers/cdc_acm/uevent"
	echo "166:0" >"$i/tty/$7/dev"
	printf '%02x\n' "$3" >"$i/bInterfaceNumber"
	echo "$4" >"$i/bInterfaceClass"; echo "$5" >"$i/bInterfaceSubClass"; echo "$6" >"$i/bInterfaceProtocol"
	ln -sfnr "$tree/bus/usb/drivers/cdc_acm" "$i/driver"
	ln -sfn "../../../$2:1.$3" "$i/tty/$7/device"
	ln -sfnr "$i/tty/$7" "$tree/class/tty/$7"
}
# netif TREE DEVNAME IFNUM CLASS SUB PROTO DRIVER IFNAME [IFINDEX]: a USB network
# interface, as the kernel lays out cdc_ether/rndis_host/cdc_ncm/smsc95xx:
#   class/net/usb0 -> ../../devices/.../1-1.2/1-1.2:1.0/net/usb0
#   .../1-1.2:1.0/net/usb0/device -> ../../../1-1.2:1.0
netif() {
	local tree=$1 i="$1/$HOST/1-1/$2/$2:1.$3"
	mkdir -p "$i/net/$8" "$tree/bus/usb/drivers/$7" "$tree/class/net"
	touch "$tree/bus/usb/drivers/$7/uevent"
	printf '%02x\n' "$3" >"$i/bInterfaceNumber"
	echo "$4" >"$i/bInterfaceClass"; echo "$5" >"$i/bInterfaceSubClass"; echo "$6" >"$i/bInterfaceProtocol"
	ln -sfnr "$tree/bus/usb/drivers/$7" "$i/driver"
	ln -sfn "../../../$2:1.$3" "$i/net/$8/device"
	echo 1 >"$i/net/$8/type"
	echo "${9:-3}" >"$i/net/$8/ifindex"
	ln -sfnr "$i/net/$8" "$tree/class/net/$8"
}
# the Pi 3's own Ethernet, a USB chip on the board's hub (must be ignored)
pi3eth() { usbdev "$1" 1-1.1 0424 ec00 "SMSC9512/9514"; netif "$1" 1-1.1 0 ff 00 ff smsc95xx eth0 2; }

# platform serial port that is not a USB modem (must be ignored)
uart() {
	local d="$1/devices/platform/soc/3f201000.serial/tty/ttyAMA0"
	mkdir -p "$d" "$1/class/tty"
	echo "204:64" >"$d/dev"
	ln -sfnr "$d" "$1/class/tty/ttyAMA0"
}

rm -rf mf180 mf180-reenum ftdi sierra acm hilink hilink-reenum ncm-at ethernet adapter-and-phone
# ZTE MF180 after usb_modeswitch: 0 diag, 1 aux, 2 modem (ttyUSB2).
usbdev mf180 1-1.2 19d2 0031 "ZTE WCDMA Technologies MSM"
for n in 0 1 2; do usbserial mf180 1-1.2 $n ff ff ff option ttyUSB$n; done
uart mf180
# The same modem after AT+CFUN=1,1 re-enumerated under new names.
usbdev mf180-reenum 1-1.2 19d2 0031 "ZTE WCDMA Technologies MSM"
for n in 0 1 2; do usbserial mf180-reenum 1-1.2 $n ff ff ff option ttyUSB$((n + 3)); done
# The bench: qemu usb-serial (FTDI 0403:6001) on hub port 2.
usbdev ftdi 1-1.2 0403 6001 "QEMU USB SERIAL"
usbserial ftdi 1-1.2 0 ff ff ff ftdi_sio ttyUSB0
uart ftdi
# Sierra MC7455 (qcserial, SWI layout): 0 diag, 2 NMEA, 3 AT/modem.
usbdev sierra 1-1.3 1199 9071 "Sierra Wireless MC7455"
usbserial sierra 1-1.3 0 ff ff ff qcserial ttyUSB0
usbserial sierra 1-1.3 2 ff ff ff qcserial ttyUSB1
usbserial sierra 1-1.3 3 ff ff ff qcserial ttyUSB2
# A CDC-ACM modem (class 02/02/01 = AT commands V.250).
usbdev acm 1-1.4 1bc7 0021 "Telit HE910"
acm acm 1-1.4 0 02 02 01 ttyACM0
# Huawei E3372h in HiLink firmware (12d1:14dc): CDC-ECM on interface 0
# (class 02/06), no serial port; beside the Pi 3's eth0.
usbdev hilink 1-1.2 12d1 14dc "HUAWEI_MOBILE"
netif hilink 1-1.2 0 02 06 00 cdc_ether usb0
pi3eth hilink
uart hilink
# The same stick after a power cycle, renamed by udev's MAC policy.
usbdev hilink-reenum 1-1.2 12d1 14dc "HUAWEI_MOBILE"
netif hilink-reenum 1-1.2 0 02 06 00 cdc_ether enx0c5b8f279a64
pi3eth hilink-reenum
# Huawei ME909s in NCM mode: huawei_cdc_ncm on interface 1 and the option
# driver's AT ports on 0 (modem) and 2 (PCUI).
usbdev ncm-at 1-1.3 12d1 15c1 "HUAWEI Mobile"
usbserial ncm-at 1-1.3 0 ff 02 01 option ttyUSB0
netif ncm-at 1-1.3 1 02 0d 00 huawei_cdc_ncm wwan0
usbserial ncm-at 1-1.3 2 ff 02 02 option ttyUSB1
# A USB Ethernet adapter on cdc_ether (Realtek RTL8153 in its ECM
# configuration, 02/06/00 like a HiLink stick) beside the Pi 3's eth0: not a
# cellular stick under modem.kind auto.
usbdev ethernet 1-1.2 0bda 8153 "USB 10/100/1000 LAN"
netif ethernet 1-1.2 0 02 06 00 cdc_ether eth1 4
pi3eth ethernet
uart ethernet
# The same adapter and a phone tethering over USB (Pixel, wireless RNDIS
# e0/01/03 on rndis_host): the phone is the cellular link.
usbdev adapter-and-phone 1-1.2 0bda 8153 "USB 10/100/1000 LAN"
netif adapter-and-phone 1-1.2 0 02 06 00 cdc_ether eth1 4
usbdev adapter-and-phone 1-1.3 18d1 4ee3 "Pixel 7"
netif adapter-and-phone 1-1.3 0 e0 01 03 rndis_host usb0 5
