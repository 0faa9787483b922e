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

// markFilter matches the conntrack entries whose mark, within mask, is mark.
type markFilter struct{ mark, mask uint32 }

func (f markFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	return flow.Mark&f.mask == f.mark
}

// ForgetMarked deletes the conntrack entries of both families whose
// connection mark, within mask, is mark (an OutMarks mark), in the network
// namespace of the calling thread, and returns how many went. The next
// packet of such a connection finds no entry: the LAN host's TCP gets a
// reset from the far end (its address is no longer the one the far end
// knows) and reconnects by the route that is current now.
func ForgetMarked(mark, mask uint32) (uint, error) {
	if mark == 0 || mark&^mask != 0 {
		return 0, fmt.Errorf("forget marked connections: mark %#x is not a non-zero value inside %#x", mark, mask)
	}
	var total uint
	for _, fam := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, fam, markFilter{mark, mask})
		total += n
		if err != nil {
			return total, fmt.Errorf("forget connections marked %#x: %w", mark, err)
		}
	}
	return total, nil
}
