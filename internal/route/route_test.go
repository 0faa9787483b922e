package route

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/failberry/failberry/internal/testenv"
)

// newNS creates a private network namespace and a handle in it, without
// moving the test process; both are released (and the namespace destroyed)
// at cleanup.
func newNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	testenv.RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new netns: %v", err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatalf("back to the original netns: %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
	})
	return ns, h
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// addVeth creates a veth link (the test kernel has no dummy driver) with its
// peer <name>p, so it has a carrier.
func addVeth(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	mustNoErr(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}))
	peer, err := h.LinkByName(name + "p")
	mustNoErr(t, err)
	mustNoErr(t, h.LinkSetUp(peer))
	l, err := h.LinkByName(name)
	mustNoErr(t, err)
	return l
}

// addLink creates an up stand-in link with an address (peer for point-to-point).
func addLink(t *testing.T, h *netlink.Handle, name, cidr, peer string) netlink.Link {
	t.Helper()
	l := addVeth(t, h, name)
	a, err := netlink.ParseAddr(cidr)
	mustNoErr(t, err)
	if peer != "" {
		a.Peer, err = netlink.ParseIPNet(peer)
		mustNoErr(t, err)
	}
	mustNoErr(t, h.AddrAdd(l, a))
	mustNoErr(t, h.LinkSetUp(l))
	return l
}

// setup builds eth0 with a default route via 192.168.1.1 (metric ethMetric)
// and ppp0 with 10.64.64.64 peer 10.64.64.1, and returns ppp0 as a Link.
func setup(t *testing.T, ethMetric int) (*netlink.Handle, Link) {
	_, h := newNS(t)
	eth := addLink(t, h, "eth0", "192.168.1.10/24", "")
	mustNoErr(t, h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP("192.168.1.1"), Priority: ethMetric}))
	ppp := addLink(t, h, "ppp0", "10.64.64.64/32", "10.64.64.1/32")
	l, err := readLink(h, "ppp0")
	mustNoErr(t, err)
	if l.Index != ppp.Attrs().Index || !l.Ready() {
		t.Fatalf("readLink = %+v", l)
	}
	return h, l
}

// defaults describes the IPv4 default routes as sorted "dev metric" strings.
func defaults(t *testing.T, h *netlink.Handle, family int) []string {
	t.Helper()
	rs, err := h.RouteListFiltered(family, &netlink.Route{Table: 254}, netlink.RT_FILTER_TABLE)
	mustNoErr(t, err)
	var out []string
	for _, r := range rs {
		if !isDefault(r.Dst) {
			continue
		}
		l, err := h.LinkByIndex(r.LinkIndex)
		mustNoErr(t, err)
		s := l.Attrs().Name + " metric " + strconv.Itoa(r.Priority)
		if r.Gw != nil {
			s += " via " + r.Gw.String()
		}
		if r.Src != nil {
			s += " src " + r.Src.String()
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: default routes (-want +got):\n%s", what, diff)
	}
}

func TestReplaceMode(t *testing.T) {
	for _, ethMetric := range []int{0, 202} {
		h, ppp := setup(t, ethMetric)
		eth := []string{"eth0 metric " + strconv.Itoa(ethMetric) + " via 192.168.1.1"}
		ours := []string{"ppp0 metric 0 src 10.64.64.64"}
		m := NewManager(h, ModeReplace, 0, nil)
		mustNoErr(t, m.Apply(ppp))
		check(t, "after Apply", defaults(t, h, netlink.FAMILY_V4), ours)
		mustNoErr(t, m.Apply(ppp))
		check(t, "after second Apply", defaults(t, h, netlink.FAMILY_V4), ours)
		// Deleted behind our back: the next Apply puts it back.
		rs, _ := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{LinkIndex: ppp.Index}, netlink.RT_FILTER_OIF)
		for _, r := range rs {
			if isDefault(r.Dst) {
				mustNoErr(t, h.RouteDel(&r))
			}
		}
		mustNoErr(t, m.Apply(ppp))
		check(t, "after repair", defaults(t, h, netlink.FAMILY_V4), ours)
		mustNoErr(t, m.Withdraw())
		check(t, "after Withdraw", defaults(t, h, netlink.FAMILY_V4), eth)
		mustNoErr(t, m.Withdraw())
		check(t, "after second Withdraw", defaults(t, h, netlink.FAMILY_V4), eth)
	}
}

func TestMetricMode(t *testing.T) {
	h, ppp := setup(t, 100)
	m := NewManager(h, ModeMetric, 50, nil)
	want := []string{"eth0 metric 100 via 192.168.1.1", "ppp0 metric 50 src 10.64.64.64"}
	mustNoErr(t, m.Apply(ppp))
	mustNoErr(t, m.Apply(ppp))
	check(t, "after Apply twice", defaults(t, h, netlink.FAMILY_V4), want)
	mustNoErr(t, m.Withdraw())
	check(t, "after Withdraw", defaults(t, h, netlink.FAMILY_V4), want[:1])

	clash := NewManager(h, ModeMetric, 100, nil)
	if err := clash.Apply(ppp); !errors.Is(err, ErrMetricInUse) {
		t.Errorf("same metric as eth0: err = %v", err)
	}
	check(t, "after refused Apply", defaults(t, h, netlink.FAMILY_V4), want[:1])
}

func TestApplyNotReady(t *testing.T) {
	m := NewManager(nil, ModeReplace, 0, nil)
	for _, l := range []Link{{Name: "ppp0"}, {Name: "ppp0", Index: 5}, {Name: "ppp0", Index: 5, Up: true}} {
		if err := m.Apply(l); !errors.Is(err, ErrLinkNotReady) {
			t.Errorf("Apply(%+v) = %v", l, err)
		}
	}
	if err := m.Withdraw(); err != nil {
		t.Errorf("Withdraw with nothing applied: %v", err)
	}
}

func TestIPv6Default(t *testing.T) {
	h, ppp := setup(t, 0)
	l, _ := h.LinkByIndex(ppp.Index)
	a, _ := netlink.ParseAddr("2001:db8::64/64")
	a.Flags = 0x02 // IFA_F_NODAD: usable at once
	mustNoErr(t, h.AddrAdd(l, a))
	ppp, err := readLink(h, "ppp0")
	mustNoErr(t, err)
	if diff := cmp.Diff([]netip.Addr{netip.MustParseAddr("2001:db8::64")}, ppp.Local6, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("Local6: %s", diff)
	}
	m := NewManager(h, ModeReplace, 0, nil)
	mustNoErr(t, m.Apply(ppp))
	mustNoErr(t, m.Apply(ppp))
	check(t, "v6 after Apply twice", defaults(t, h, netlink.FAMILY_V6), []string{"ppp0 metric 1024"})
	mustNoErr(t, m.Withdraw())
	check(t, "v6 after Withdraw", defaults(t, h, netlink.FAMILY_V6), nil)
}

func TestWatchLink(t *testing.T) {
	ns, h := newNS(t)
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Link, 64)
	errc := make(chan error, 1)
	go func() { errc <- WatchLinkAt(ctx, ns, "ppp0", func(l Link) { events <- l }) }()
	await := func(what string, ok func(Link) bool) Link {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l := <-events:
				if ok(l) {
					return l
				}
			case err := <-errc:
				t.Fatalf("WatchLink ended waiting for %s: %v", what, err)
			case <-timeout:
				t.Fatalf("no event: %s", what)
			}
		}
	}
	await("initial absent state", func(l Link) bool { return l.Index == 0 && l.Name == "ppp0" })
	addLink(t, h, "other0", "10.9.9.9/24", "") // noise on another link
	addVeth(t, h, "ppp0")
	await("appears", func(l Link) bool { return l.Index > 0 && !l.Up })
	dev, err := h.LinkByName("ppp0")
	mustNoErr(t, err)
	mustNoErr(t, h.LinkSetUp(dev))
	await("up", func(l Link) bool { return l.Up })
	a, _ := netlink.ParseAddr("10.64.64.64/32")
	a.Peer, _ = netlink.ParseIPNet("10.64.64.1/32")
	mustNoErr(t, h.AddrAdd(dev, a))
	got := await("address", func(l Link) bool { return l.Local.IsValid() })
	if got.Local != netip.MustParseAddr("10.64.64.64") || got.Peer != netip.MustParseAddr("10.64.64.1") || !got.Ready() {
		t.Errorf("link = %+v", got)
	}
	mustNoErr(t, h.LinkSetDown(dev))
	await("down", func(l Link) bool { return !l.Up && l.Index > 0 })
	mustNoErr(t, h.LinkDel(dev))
	await("gone", func(l Link) bool { return l.Index == 0 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("WatchLink = %v, want context.Canceled", err)
	}
}

// TestLinkRecreated covers a redial: pppd's link goes away (the kernel drops
// its routes) and comes back with a new index.
func TestLinkRecreated(t *testing.T) {
	h, ppp := setup(t, 202)
	m := NewManager(h, ModeReplace, 0, nil)
	mustNoErr(t, m.Apply(ppp))
	old, err := h.LinkByIndex(ppp.Index)
	mustNoErr(t, err)
	mustNoErr(t, h.LinkDel(old))
	if err := m.Apply(Link{Name: "ppp0"}); !errors.Is(err, ErrLinkNotReady) {
		t.Fatalf("Apply on a gone link = %v", err)
	}
	addLink(t, h, "ppp0", "10.64.64.65/32", "10.64.64.1/32")
	again, err := readLink(h, "ppp0")
	mustNoErr(t, err)
	if again.Index == ppp.Index {
		t.Fatal("test needs a new index")
	}
	mustNoErr(t, m.Apply(again))
	check(t, "after redial", defaults(t, h, netlink.FAMILY_V4), []string{"ppp0 metric 0 src 10.64.64.65"})
	mustNoErr(t, m.Withdraw())
	check(t, "after Withdraw", defaults(t, h, netlink.FAMILY_V4), []string{"eth0 metric 202 via 192.168.1.1"})
}

// TestGateways covers where the wired uplink's reply gateway comes from: the
// main table, or in replace mode the routes the Manager displaced.
func TestGateways(t *testing.T) {
	ns, h := quietNS(t)
	addLink(t, h, "eth0", "192.168.1.10/24", "")
	eth := mustLink(t, h, "eth0")
	mustNoErr(t, h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP("192.168.1.1"), Priority: 202}))
	mustNoErr(t, h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: zeroNet(netlink.FAMILY_V6), Gw: net.ParseIP("fe80::1")}))
	addLink(t, h, "ppp0", "10.64.64.64/32", "10.64.64.1/32")
	addAddr(t, h, "ppp0", "2001:db8:c::64/64")
	ppp, err := readLink(h, "ppp0")
	mustNoErr(t, err)
	wired := [2]Hop{{Gateway: netip.MustParseAddr("192.168.1.1")}, {Gateway: netip.MustParseAddr("fe80::1%eth0")}}
	gateways := func(m *Manager, what, name string, want [2]Hop) {
		t.Helper()
		v4, v6, err := m.Gateways(name)
		mustNoErr(t, err)
		if diff := cmp.Diff(want, [2]Hop{v4, v6}, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("%s: Gateways(%s) (-want +got):\n%s", what, name, diff)
		}
	}
	for _, mode := range []Mode{ModeReplace, ModeMetric} {
		m := NewManager(h, mode, 50, nil)
		gateways(m, string(mode)+", before Apply", "eth0", wired)
		mustNoErr(t, m.Apply(ppp))
		gateways(m, string(mode)+", after Apply", "eth0", wired)
		gateways(m, string(mode)+", after Apply", "ppp0", [2]Hop{{Direct: true}, {Direct: true}})
		mustNoErr(t, m.Withdraw())
		gateways(m, string(mode)+", after Withdraw", "eth0", wired)
	}
	// Replace mode really took them out of the main table: the answer came
	// from what it keeps to put back.
	m := NewManager(h, ModeReplace, 0, nil)
	mustNoErr(t, m.Apply(ppp))
	if got := sh(t, ns, "ip", "route", "show", "default", "dev", "eth0"); got != "" {
		t.Errorf("eth0 default still in main: %q", got)
	}
	gateways(m, "displaced", "eth0", wired)
	mustNoErr(t, m.Withdraw())
	if _, _, err := m.Gateways("eth9"); err == nil {
		t.Error("Gateways of a missing link: no error")
	}
}

// A network card's default route goes via the stick's router; its IPv6
// default (from the stick's router advertisements, the kernel's) is left
// alone. Repeated, repaired and withdrawn like PPP's.
func TestGatewayLink(t *testing.T) {
	_, h := newNS(t)
	eth := addLink(t, h, "eth0", "192.168.1.10/24", "")
	mustNoErr(t, h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP("192.168.1.1")}))
	nl := addLink(t, h, "cell0", "192.168.8.100/24", "")
	a, _ := netlink.ParseAddr("2001:db8::64/64")
	a.Flags = 0x02 // IFA_F_NODAD
	mustNoErr(t, h.AddrAdd(nl, a))
	ra := &netlink.Route{LinkIndex: nl.Attrs().Index, Gw: net.ParseIP("fe80::1"), Priority: 1024, Protocol: 9} // RTPROT_RA
	mustNoErr(t, h.RouteAdd(ra))
	cell, err := readLink(h, "cell0")
	mustNoErr(t, err)
	cell.Gateway = netip.MustParseAddr("192.168.8.1")
	m := NewManager(h, ModeReplace, 0, nil)
	ours := []string{"cell0 metric 0 via 192.168.8.1 src 192.168.8.100"}
	mustNoErr(t, m.Apply(cell))
	mustNoErr(t, m.Apply(cell))
	check(t, "after Apply twice", defaults(t, h, netlink.FAMILY_V4), ours)
	check(t, "v6 after Apply", defaults(t, h, netlink.FAMILY_V6), []string{"cell0 metric 1024 via fe80::1"})
	rs, _ := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{LinkIndex: cell.Index}, netlink.RT_FILTER_OIF)
	for _, r := range rs {
		if isDefault(r.Dst) {
			mustNoErr(t, h.RouteDel(&r))
		}
	}
	mustNoErr(t, m.Apply(cell))
	check(t, "after repair", defaults(t, h, netlink.FAMILY_V4), ours)
	mustNoErr(t, m.Withdraw())
	check(t, "after Withdraw", defaults(t, h, netlink.FAMILY_V4), []string{"eth0 metric 0 via 192.168.1.1"})
	check(t, "v6 after Withdraw", defaults(t, h, netlink.FAMILY_V6), []string{"cell0 metric 1024 via fe80::1"})
}
