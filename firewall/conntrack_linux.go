package firewall

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FlushConntrack deletes the conntrack entries that involve addr (the
// cellular address we just lost) in either direction, in the network
// namespace of the calling thread, and returns how many went. Masqueraded
// flows keep the old address in their reply tuple and would otherwise hang
// until they time out; entries of other addresses (the LAN side, SSH) stay.
func FlushConntrack(addr netip.Addr) (uint, error) {
	if !addr.IsValid() || addr.IsUnspecified() {
		return 0, fmt.Errorf("flush conntrack: invalid address %q", addr)
	}
	addr = addr.Unmap()
	fam := netlink.InetFamily(unix.AF_INET)
	if addr.Is6() {
		fam = unix.AF_INET6
	}
	ip := net.IP(addr.AsSlice())
	var filters []netlink.CustomConntrackFilter
	for _, tp := range []netlink.ConntrackFilterType{netlink.ConntrackOrigSrcIP, netlink.ConntrackOrigDstIP, netlink.ConntrackReplyAnyIP} {
		f := &netlink.ConntrackFilter{}
		if err := f.AddIP(tp, ip); err != nil {
			return 0, fmt.Errorf("flush conntrack %s: %w", addr, err)
		}
		filters = append(filters, f)
	}
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, fam, filters...)
	if err != nil {
		return n, fmt.Errorf("flush conntrack %s: %w", addr, err)
	}
	return n, nil
}
