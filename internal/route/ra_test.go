package route

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// A network-card stick's IPv6 comes from its router's advertisements. With
// a real RA sent over a veth wire from a namespace playing the stick, and
// the cellular link set as the daemon sets it (forwarding on, since the Pi
// is a gateway; accept_ra 2, internal/daemon's acceptRA): cell0 gets a
// global SLAAC address, which the link reader reports (Local6), and a
// default route via the stick's link-local address, which Apply leaves
// alone for a link with a gateway and Gateways hands reply routing as the
// IPv6 hop. accept_ra 1, the kernel's default, takes no default route while
// forwarding is on: the control that shows the setting matters.
func TestRouterAdvertisementOnNetcard(t *testing.T) {
	pi, h := newNS(t)
	stick, sh := newNS(t)
	mustNoErr(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "cell0"}, PeerName: "stk"}))
	peer, err := h.LinkByName("stk")
	mustNoErr(t, err)
	mustNoErr(t, h.LinkSetNsFd(peer, int(stick)))
	for _, kv := range [][2]string{{"all/forwarding", "1"}, {"cell0/forwarding", "1"}, {"cell0/accept_dad", "0"}, {"cell0/accept_ra", "1"}} {
		sysctl6(t, pi, kv[0], kv[1])
	}
	sysctl6(t, stick, "stk/accept_dad", "0")
	cell, err := h.LinkByName("cell0")
	mustNoErr(t, err)
	a, _ := netlink.ParseAddr("192.168.8.100/24") // the DHCP lease
	mustNoErr(t, h.AddrAdd(cell, a))
	mustNoErr(t, h.LinkSetUp(cell))
	stk, err := sh.LinkByName("stk")
	mustNoErr(t, err)
	mustNoErr(t, sh.LinkSetUp(stk))
	waitLinkLocal(t, sh, stk)

	router := sendRA(t, stick, "stk")
	time.Sleep(500 * time.Millisecond)
	if got := defaults(t, h, netlink.FAMILY_V6); len(got) != 0 {
		t.Fatalf("accept_ra 1 with forwarding on took a default route %q: the control is broken", got)
	}
	sysctl6(t, pi, "cell0/accept_ra", "2")
	var l Link
	deadline := time.Now().Add(10 * time.Second)
	for {
		sendRA(t, stick, "stk")
		l, err = readLink(h, "cell0")
		mustNoErr(t, err)
		if len(l.Local6) > 0 && len(defaults(t, h, netlink.FAMILY_V6)) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	prefix := netip.MustParsePrefix("2001:db8:8::/64")
	if !slices.ContainsFunc(l.Local6, prefix.Contains) {
		t.Fatalf("cell0's addresses %v, want one in %s from the RA", l.Local6, prefix)
	}
	wantRoute := []string{"cell0 metric 1024 via " + router.String()}
	check(t, "v6 default from the RA", defaults(t, h, netlink.FAMILY_V6), wantRoute)

	l.Gateway = netip.MustParseAddr("192.168.8.1") // a network card's link
	m := NewManager(h, ModeReplace, 0, nil)
	mustNoErr(t, m.Apply(l))
	check(t, "v6 default after Apply", defaults(t, h, netlink.FAMILY_V6), wantRoute)
	_, v6, err := m.Gateways("cell0")
	mustNoErr(t, err)
	if want := (Hop{Gateway: router.WithZone("cell0")}); v6 != want {
		t.Errorf("Gateways v6 = %+v, want %+v", v6, want)
	}
	mustNoErr(t, m.Withdraw())
	check(t, "v6 default after Withdraw", defaults(t, h, netlink.FAMILY_V6), wantRoute)
}

// waitLinkLocal waits for l's link-local address. The kernel adds it when
// the veth pair's carrier comes up, which the link watcher reports
// asynchronously (up to a second late on a busy machine): an RA sent before
// has no source address (CI failed on it once).
func waitLinkLocal(t *testing.T, h *netlink.Handle, l netlink.Link) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		addrs, err := h.AddrList(l, netlink.FAMILY_V6)
		mustNoErr(t, err)
		if slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.IsLinkLocalUnicast() }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no link-local address after 10 s: %v", l.Attrs().Name, addrs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sysctl6 writes net.ipv6.conf.<key> in ns (the sysctl tree is the
// namespace of the thread that opens it).
func sysctl6(t *testing.T, ns netns.NsHandle, key, value string) {
	t.Helper()
	inNS(t, ns, func() { mustNoErr(t, os.WriteFile("/proc/sys/net/ipv6/conf/"+key, []byte(value), 0o644)) })
}

// sendRA sends one router advertisement of 2001:db8:8::/64 (on-link,
// autonomous) with a 30-minute router lifetime from iface in ns, as a
// stick's router does, and returns the link-local address it came from.
func sendRA(t *testing.T, ns netns.NsHandle, iface string) netip.Addr {
	t.Helper()
	var from netip.Addr
	inNS(t, ns, func() {
		mustNoErr(t, func() error {
			ifi, err := net.InterfaceByName(iface)
			if err != nil {
				return err
			}
			c, ll, err := ndp.Listen(ifi, ndp.LinkLocal)
			if err != nil {
				return fmt.Errorf("ndp on %s: %w", iface, err)
			}
			defer c.Close()
			from = ll.WithZone("")
			ra := &ndp.RouterAdvertisement{CurrentHopLimit: 64, RouterLifetime: 30 * time.Minute,
				Options: []ndp.Option{
					&ndp.PrefixInformation{PrefixLength: 64, OnLink: true, AutonomousAddressConfiguration: true,
						ValidLifetime: time.Hour, PreferredLifetime: 30 * time.Minute, Prefix: netip.MustParseAddr("2001:db8:8::")},
					&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr},
				}}
			return c.WriteTo(ra, nil, netip.IPv6LinkLocalAllNodes())
		}())
	})
	return from
}
