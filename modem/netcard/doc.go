// Package netcard runs the link of a network-card stick: a USB LTE modem
// that shows up as an Ethernet interface (cdc_ether, rndis_host, cdc_ncm,
// huawei_cdc_ncm) with its own router and DHCP server behind it, as the
// Huawei E3372 in HiLink firmware and most sticks sold today do.
//
// Start gives the interface failberry's name (the kernel's usb0, eth1 or
// enx... changes when the stick re-enumerates), sets it up, takes an IPv4
// lease by DHCP (github.com/insomniacslk/dhcp's nclient4, in process: no
// dhclient or dhcpcd to fight Raspberry Pi OS's own network manager), and
// keeps the lease: renewing at T1, rebinding until T2 and the lease's end.
// The address is installed with the lease's lifetime, so if failberry dies
// the kernel drops it when the lease would have ended: nothing stale stays.
//
// The package is a leaf: it knows netlink and DHCP, not the daemon, the
// route manager or the firewall.
package netcard
