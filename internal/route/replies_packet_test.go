package route

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/failberry/failberry/internal/testenv"
)

// wire connects two namespaces with a veth pair, both ends up.
func wire(t *testing.T, ha *netlink.Handle, a string, nsb netns.NsHandle, hb *netlink.Handle, b string) {
	t.Helper()
	mustNoErr(t, ha.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b, PeerNamespace: netlink.NsFd(int(nsb))}))
	mustNoErr(t, ha.LinkSetUp(mustLink(t, ha, a)))
	mustNoErr(t, hb.LinkSetUp(mustLink(t, hb, b)))
}

// firewallMarks installs, in ns, the mangle rules the firewall package owns
// in production (this package only exports the numbers): a connection gets
// the mark of the link it came in on, and the packets of its reply
// direction, forwarded or the host's own, get it back, so the policy rules
// see it. Only the reply direction: a LAN host's outbound connection marked
// on eth0 must not be sent back to the main router.
func firewallMarks(t *testing.T, ns netns.NsHandle, tool string) {
	t.Helper()
	mask := fmt.Sprintf("%#x", MarkMask)
	for _, l := range []struct {
		name string
		mark uint32
	}{{"eth0", MarkWired}, {"ppp0", MarkCellular}} {
		sh(t, ns, tool, "-w", "-t", "mangle", "-A", "PREROUTING", "-i", l.name, "-m", "conntrack", "--ctstate", "NEW",
			"-j", "CONNMARK", "--set-xmark", fmt.Sprintf("%#x/%s", l.mark, mask))
	}
	for _, chain := range []string{"PREROUTING", "OUTPUT"} {
		sh(t, ns, tool, "-w", "-t", "mangle", "-A", chain, "-m", "conntrack", "--ctdir", "REPLY",
			"-j", "CONNMARK", "--restore-mark", "--nfmask", mask, "--ctmask", mask)
	}
}

// echoServer answers one line per connection on addr in ns, like a health
// check endpoint; it stops at cleanup.
func echoServer(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	inNS(t, ns, func() { ln, err = net.Listen("tcp", addr) })
	mustNoErr(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					c.Write([]byte("ok " + line))
				}
			}()
		}
	}()
}

// TestRepliesLeaveTheWayTheyCame is issue 12 end to end. A client on the
// internet reaches the Pi's wired address through the main router while the
// Pi's default route is on the cellular link (replace mode). With the
// firewall's marks and no reply routing, the Pi's answers leave through the
// cellular link and the client gets none; with it, they leave through eth0
// via the main router and reach the client; after Remove, they are lost
// again. IPv4, and IPv6 with the main router's link-local address as the
// gateway.
func TestRepliesLeaveTheWayTheyCame(t *testing.T) {
	testenv.RequireTools(t, "ip", "iptables", "ip6tables", "iptables-save", "ip6tables-save")
	pi, hPi := quietNS(t)
	router, hRouter := quietNS(t)
	client, hClient := quietNS(t)
	carrier, hCarrier := quietNS(t)
	// Loose reverse-path filtering, as Raspberry Pi OS ships it (systemd's
	// 50-default.conf): the request on eth0 comes from an address whose
	// route is via ppp0, which strict mode (1) would drop before any reply.
	sysctl(t, pi, "net/ipv4/conf/all/rp_filter", "2")
	sysctl(t, router, "net/ipv4/ip_forward", "1")
	sysctl(t, router, "net/ipv6/conf/all/forwarding", "1")

	wire(t, hPi, "eth0", router, hRouter, "lan0")
	wire(t, hPi, "ppp0", carrier, hCarrier, "cell0") // the cellular stand-in: nothing answers behind it
	wire(t, hRouter, "wan0", client, hClient, "eth0")
	for _, a := range []struct {
		h         *netlink.Handle
		link, adr string
	}{
		{hPi, "eth0", "192.168.1.10/24"}, {hPi, "eth0", "2001:db8:1::10/64"},
		{hPi, "ppp0", "10.64.64.64/32"}, {hPi, "ppp0", "2001:db8:c::64/64"},
		{hRouter, "lan0", "192.168.1.1/24"}, {hRouter, "lan0", "fe80::1/64"}, {hRouter, "lan0", "2001:db8:1::1/64"},
		{hRouter, "wan0", "203.0.113.1/24"}, {hRouter, "wan0", "2001:db8:2::1/64"},
		{hClient, "eth0", "203.0.113.10/24"}, {hClient, "eth0", "2001:db8:2::10/64"},
	} {
		addAddr(t, a.h, a.link, a.adr)
	}
	addDefault(t, hPi, "eth0", "192.168.1.1")
	addDefault(t, hPi, "eth0", "fe80::1")
	addDefault(t, hClient, "eth0", "203.0.113.1")
	addDefault(t, hClient, "eth0", "2001:db8:2::1")

	// The cellular link comes up: replace mode displaces eth0's defaults.
	ppp, err := readLink(hPi, "ppp0")
	mustNoErr(t, err)
	m := NewManager(hPi, ModeReplace, 0, nil)
	mustNoErr(t, m.Apply(ppp))
	t.Cleanup(func() { m.Withdraw() })
	if got := sh(t, pi, "ip", "-4", "route", "show", "default"); !strings.HasPrefix(got, "default dev ppp0") {
		t.Fatalf("IPv4 default after replace: %q", got)
	}
	if got := sh(t, pi, "ip", "-6", "route", "show", "default"); !strings.HasPrefix(got, "default dev ppp0") {
		t.Fatalf("IPv6 default after replace: %q", got)
	}
	firewallMarks(t, pi, "iptables")
	firewallMarks(t, pi, "ip6tables")
	echoServer(t, pi, "192.168.1.10:9000")
	echoServer(t, pi, "[2001:db8:1::10]:9000")

	// The daemon's side: the gateways replace mode displaced, and the policy.
	v4, v6, err := m.Gateways("eth0")
	mustNoErr(t, err)
	if v4.Gateway.String() != "192.168.1.1" || v6.Gateway.String() != "fe80::1%eth0" {
		t.Fatalf("Gateways(eth0) = %+v, %+v", v4, v6)
	}
	policy := Policy{Uplinks: []Uplink{
		{Name: "eth0", Mark: MarkWired, V4: v4, V6: v6},
		{Name: ppp.Name, Mark: MarkCellular, V4: Hop{Direct: true}, V6: Hop{Direct: true}},
	}}
	replies := NewReplyRoutes(hPi, nil)

	port := 40000
	// exchange connects from the client to addr and reports whether the
	// answer came back, and how many of the Pi's reply packets for this one
	// connection left through eth0 and through ppp0 (counted in the Pi's
	// mangle POSTROUTING, matched on the client's port so that late packets
	// of earlier connections do not count).
	exchange := func(family, tool, addr string) (answered bool, viaEth0, viaPPP0 int) {
		t.Helper()
		port++
		dport := strconv.Itoa(port)
		for _, link := range []string{"eth0", "ppp0"} {
			sh(t, pi, tool, "-w", "-t", "mangle", "-A", "POSTROUTING", "-o", link, "-p", "tcp", "--sport", "9000", "--dport", dport)
		}
		var c net.Conn
		var err error
		d := net.Dialer{Timeout: 1500 * time.Millisecond, LocalAddr: &net.TCPAddr{Port: port}}
		inNS(t, client, func() { c, err = d.Dial("tcp", addr) })
		if err == nil {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			var line string
			if _, err = c.Write([]byte("health?\n")); err == nil {
				line, err = bufio.NewReader(c).ReadString('\n')
			}
			answered = err == nil && line == "ok health?\n"
			c.Close()
		}
		for _, l := range lines(sh(t, pi, tool+"-save", "-c", "-t", "mangle")) {
			if !strings.Contains(l, "--dport "+dport) {
				continue
			}
			var pkts, bytes int
			if _, err := fmt.Sscanf(l, "[%d:%d]", &pkts, &bytes); err != nil {
				t.Fatalf("counter line %q: %v", l, err)
			}
			switch {
			case strings.Contains(l, "-o eth0"):
				viaEth0 = pkts
			case strings.Contains(l, "-o ppp0"):
				viaPPP0 = pkts
			}
		}
		return answered, viaEth0, viaPPP0
	}
	type phase struct {
		what   string
		before func()
		works  bool
	}
	for _, f := range []struct{ family, tool, addr string }{
		{"IPv4", "iptables", "192.168.1.10:9000"},
		{"IPv6", "ip6tables", "[2001:db8:1::10]:9000"},
	} {
		for _, p := range []phase{
			{"without reply routing", func() {}, false},
			{"with reply routing", func() { mustNoErr(t, replies.Apply(policy)) }, true},
			{"after Remove", func() { mustNoErr(t, replies.Remove()) }, false},
		} {
			p.before()
			answered, eth0, ppp0 := exchange(f.family, f.tool, f.addr)
			t.Logf("%s %s: answered %v, reply packets via eth0 %d, via ppp0 %d", f.family, p.what, answered, eth0, ppp0)
			switch {
			case p.works && (!answered || eth0 == 0 || ppp0 != 0):
				t.Errorf("%s %s: answered %v, reply packets via eth0 %d, via ppp0 %d; want answered, all via eth0",
					f.family, p.what, answered, eth0, ppp0)
			case !p.works && (answered || ppp0 == 0 || eth0 != 0):
				t.Errorf("%s %s: answered %v, reply packets via eth0 %d, via ppp0 %d; want no answer, all via ppp0",
					f.family, p.what, answered, eth0, ppp0)
			}
		}
	}
}
