package firewall

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The inbound tests use the topology of system_linux_test.go: lan
// (192.168.50.10-11, fd50::10-11) -- eth0 | gw | ppp0 -- wan0 inet
// (203.0.113.2, 2001:db8::2). The forwarded hosts are in the lan namespace.

const (
	gwLAN4, gwWAN4, inet4 = "192.168.50.1", "203.0.113.1", "203.0.113.2"
	host4, dmz4           = "192.168.50.10", "192.168.50.11"
	host6, dmz6, inet6    = "fd50::10", "fd50::11", "2001:db8::2"
	gwWAN6                = "2001:db8::1"
	markLAN, markWAN      = 0x01000000, 0x02000000
)

// inboundTestPolicy adds to base the forwards the tests probe: a single
// port, a shifted range, a TCP port to another host port, and an IPv6 host.
func inboundTestPolicy(base Policy) Policy {
	p := base
	p.Forwards = []Forward{
		{Proto: "udp", Ports: "51820", To: netip.MustParseAddr(host4)},
		{Proto: "udp", Ports: "60000-60010", To: netip.MustParseAddr(host4), ToPort: 61000},
		{Proto: "tcp", Ports: "8443", To: netip.MustParseAddr(host4), ToPort: 8081},
		{Proto: "udp", Ports: "51820", To: netip.MustParseAddr(host6)},
	}
	p.SNATForwards = true
	p.Marks = []InterfaceMark{{"eth0", markLAN}, {"ppp+", markWAN}}
	return p
}

func hostPort(h string, port int) string { return net.JoinHostPort(h, strconv.Itoa(port)) }

// serveUDP answers each datagram to addr (in ns) with "<peer address>
// <local port>", so a probe learns both who the host saw and which of its
// ports the datagram reached. addr names one address: the answer then
// leaves from it, as a VPN server's does.
func serveUDP(t *testing.T, ns, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := inNS(ns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { pc.Close() })
	port := pc.LocalAddr().(*net.UDPAddr).Port
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			peer := from.(*net.UDPAddr).AddrPort().Addr().Unmap()
			_, _ = pc.WriteTo(fmt.Appendf(nil, "%s %d", peer, port), from)
		}
	}()
}

// askUDP sends one datagram from ns (from src, if set) to dst on a
// connected socket, which takes answers from dst only, and returns the
// answer. No answer within wait is a timeout error.
func askUDP(ns, src, dst string, wait time.Duration) (string, error) {
	var c net.Conn
	err := inNS(ns, func() (err error) {
		d := net.Dialer{}
		if src != "" {
			d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(src)}
		}
		c, err = d.Dial("udp", dst)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write([]byte("vpn")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func wantAnswer(t *testing.T, what, got string, err error, want string) {
	t.Helper()
	if err != nil || got != want {
		t.Errorf("%s: answer %q (err %v), want %q", what, got, err, want)
	}
}

// warmNeighbours resolves the neighbours the probes cross (gw to the LAN
// hosts, inet to gw), so that on a loaded machine a slow neighbour
// discovery cannot pass for a firewall that gave no answer, or fail a probe
// with "no route to host".
func (tp *topo) warmNeighbours() {
	tp.t.Helper()
	for _, c := range []struct{ ns, dst string }{
		{tp.gw, host4}, {tp.gw, dmz4}, {tp.gw, host6}, {tp.gw, dmz6}, {tp.inet, gwWAN4}, {tp.inet, gwWAN6},
	} {
		if out, err := exec.Command("ip", "netns", "exec", c.ns, "ping", "-c", "1", "-W", "10", c.dst).CombinedOutput(); err != nil {
			tp.t.Fatalf("ping %s from %s: %v\n%s", c.dst, c.ns, err, out)
		}
	}
}

func (tp *topo) apply(p Policy) {
	tp.t.Helper()
	if err := tp.firewall().Apply(context.Background(), tp.ruleset(p)); err != nil {
		tp.t.Fatalf("Apply: %v", err)
	}
}

// TestSystemForwards: forwarded ports reach the LAN host and its answers
// come back to the sender, also when the host's default route is another
// router (thanks to SNATForwards); everything else stays unanswered.
func TestSystemForwards(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		for _, port := range []int{51820, 61005, 5555} {
			serveUDP(t, tp.lan, hostPort(host4, port))
		}
		serveUDP(t, tp.lan, hostPort(host6, 51820))
		serveUDP(t, tp.lan, hostPort(host6, 5555))
		serveTCP(t, tp.lan, ":8081")
		serveTCP(t, tp.gw, ":9000")

		// Without the firewall the LAN host answers when addressed
		// directly, and nothing on the Pi answers the forwarded ports:
		// the checks below can fail.
		got, err := askUDP(tp.inet, "", hostPort(host4, 5555), openWait)
		wantAnswer(t, "control: internet to the LAN host directly", got, err, inet4+" 5555")
		_, err = askUDP(tp.inet, "", hostPort(gwWAN4, 51820), openWait)
		wantRejected(t, "control: 51820 on the Pi without firewall", err)

		tp.warmNeighbours()
		p := inboundTestPolicy(tp.policy)
		tp.apply(p)
		for _, c := range []struct {
			what, dst, want string
		}{
			{"v4 forward", hostPort(gwWAN4, 51820), gwLAN4 + " 51820"},
			{"v4 range forward, shifted", hostPort(gwWAN4, 60005), gwLAN4 + " 61005"},
			{"v6 forward, not translated", hostPort(host6, 51820), inet6 + " 51820"},
		} {
			got, err := askUDP(tp.inet, "", c.dst, openWait)
			wantAnswer(t, c.what, got, err, c.want)
		}
		got, err = dialTCP(t, tp.inet, "", hostPort(gwWAN4, 8443), openWait, false)
		wantPeer(t, "tcp forward to another host port", got, err, gwLAN4)
		got, err = dialTCP(t, tp.inet, "", hostPort(gwWAN4, 9000), openWait, false)
		wantPeer(t, "health port still answered by the Pi", got, err, inet4)
		for _, c := range []struct{ what, dst string }{
			{"v4 port not forwarded (the host listens on it)", hostPort(gwWAN4, 5555)},
			{"v4 port past the range", hostPort(gwWAN4, 60011)},
			{"v4 LAN host addressed directly", hostPort(host4, 5555)},
			{"v6 port not forwarded", hostPort(host6, 5555)},
			{"v6 host not listed", hostPort(dmz6, 51820)},
			{"v6 Pi address (no NAT on IPv6)", hostPort(gwWAN6, 51820)},
		} {
			_, err := askUDP(tp.inet, "", c.dst, dropWait)
			wantTimeout(t, c.what, err)
		}

		// The LAN host's default route now points at another router, a
		// namespace that counts what it gets and routes nothing.
		rtr := tp.gw[:len(tp.gw)-len("gw")] + "rtr"
		run(t, "ip", "netns", "add", rtr)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", rtr).Run() })
		run(t, "ip", "-n", tp.lan, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", rtr)
		run(t, "ip", "-n", rtr, "addr", "add", "192.168.50.254/24", "dev", "eth0")
		run(t, "ip", "-n", rtr, "link", "set", "eth0", "up")
		run(t, "ip", "-n", tp.lan, "link", "set", "eth1", "up")
		run(t, "ip", "-n", tp.lan, "route", "replace", "default", "via", "192.168.50.254", "dev", "eth1", "onlink")
		run(t, "ip", "netns", "exec", rtr, tp.b.v4, "-t", "raw", "-A", "PREROUTING", "-s", host4, "-p", "udp", "--sport", "51820")
		atRouter := func() int {
			save := run(t, "ip", "netns", "exec", rtr, tp.b.save4, "-c", "-t", "raw")
			m := regexp.MustCompile(`\[(\d+):\d+\] -A PREROUTING -s ` + host4).FindStringSubmatch(save)
			if m == nil {
				t.Fatalf("no counter in router:\n%s", save)
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}

		got, err = askUDP(tp.inet, "", hostPort(gwWAN4, 51820), openWait)
		wantAnswer(t, "v4 forward, host routes via another router, SNAT on", got, err, gwLAN4+" 51820")
		if n := atRouter(); n != 0 {
			t.Errorf("with SNAT, %d answers went to the other router", n)
		}
		noSNAT := p
		noSNAT.SNATForwards = false
		tp.apply(noSNAT)
		_, err = askUDP(tp.inet, "", hostPort(gwWAN4, 51820), dropWait)
		wantTimeout(t, "control: the same without SNAT", err)
		if n := atRouter(); n == 0 {
			t.Errorf("without SNAT the answer did not go to the other router: the control proves nothing")
		}
	})
}

// TestSystemDMZ: the DMZ hosts get everything from the WAN but the health
// port and the echo requests the Pi answers; explicit forwards win.
func TestSystemDMZ(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.gw, ":9000")
		serveTCP(t, tp.lan, hostPort(dmz4, 9000)) // must not get the health checks
		serveTCP(t, tp.lan, hostPort(dmz4, 2222))
		serveTCP(t, tp.lan, hostPort(dmz6, 2222))
		serveUDP(t, tp.lan, hostPort(dmz4, 5555))
		serveUDP(t, tp.lan, hostPort(dmz6, 5555))
		serveUDP(t, tp.lan, hostPort(host4, 51820))
		serveTCP(t, tp.lan, hostPort(host6, 8081))

		tp.warmNeighbours()
		// The DMZ host drops echo requests: an answer comes from the Pi.
		run(t, "ip", "netns", "exec", tp.lan, tp.b.v4, "-A", "INPUT", "-p", "icmp", "--icmp-type", "8", "-j", "DROP")
		p := tp.policy
		p.Forwards = []Forward{{Proto: "udp", Ports: "51820", To: netip.MustParseAddr(host4)}}
		p.DMZ, p.DMZ6 = netip.MustParseAddr(dmz4), netip.MustParseAddr(dmz6)
		p.SNATForwards = true
		tp.apply(p)

		got, err := dialTCP(t, tp.inet, "", hostPort(gwWAN4, 9000), openWait, false)
		wantPeer(t, "health port answered by the Pi, not the DMZ host", got, err, inet4)
		got, err = dialTCP(t, tp.inet, "", hostPort(gwWAN4, 2222), openWait, false)
		wantPeer(t, "tcp to the DMZ host", got, err, gwLAN4)
		got, err = askUDP(tp.inet, "", hostPort(gwWAN4, 5555), openWait)
		wantAnswer(t, "udp to the DMZ host", got, err, gwLAN4+" 5555")
		got, err = askUDP(tp.inet, "", hostPort(gwWAN4, 51820), openWait)
		wantAnswer(t, "explicit forward wins over the DMZ", got, err, gwLAN4+" 51820")
		if out, err := exec.Command("ip", "netns", "exec", tp.inet, "ping", "-c", "1", "-W", "5", gwWAN4).CombinedOutput(); err != nil {
			t.Errorf("echo to the Pi with InboundICMP: %v\n%s", err, out)
		}
		got, err = dialTCP(t, tp.inet, "", hostPort(dmz6, 2222), openWait, false)
		wantPeer(t, "tcp to the v6 DMZ host", got, err, inet6)
		got, err = askUDP(tp.inet, "", hostPort(dmz6, 5555), openWait)
		wantAnswer(t, "udp to the v6 DMZ host", got, err, inet6+" 5555")
		_, err = dialTCP(t, tp.inet, "", hostPort(host6, 8081), dropWait, false)
		wantTimeout(t, "v6 host that is not the DMZ", err)
		_, err = askUDP(tp.inet, "", hostPort(gwWAN6, 5555), dropWait)
		wantTimeout(t, "v6 Pi address", err)
	})
}

// TestSystemMarks stands in for the route side with the ip rules it is
// meant to install (README of internal/route): a connection that came in
// on eth0 (a checker behind the main router) is answered out of eth0 while
// the cellular link owns the default route, and a forwarded connection that
// came in on the WAN is answered out of the WAN while the wired link owns
// it. Each is checked first without the marks, where the answer is lost.
func TestSystemMarks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.gw, ":9000")
		serveTCP(t, tp.inet, ":8080")
		serveUDP(t, tp.lan, hostPort(host4, 51820))
		serveUDP(t, tp.lan, hostPort(host6, 51820))
		run(t, "ip", "netns", "exec", tp.gw, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=2")
		fams := []struct {
			ip, mask, checker, client, lanGW, wanGW, gwLAN, gwWAN, host string
		}{
			{"-4", "/32", "198.51.100.7", "198.51.100.9", host4, inet4, gwLAN4, gwWAN4, host4},
			{"-6", "/128", "2001:db8:7::7", "2001:db8:9::9", host6, inet6, "fd50::1", gwWAN6, host6},
		}
		for _, f := range fams {
			run(t, "ip", "-n", tp.lan, "addr", "add", f.checker+f.mask, "dev", "lo")
			run(t, "ip", "-n", tp.inet, "addr", "add", f.client+f.mask, "dev", "lo")
			gw := func(args ...string) { run(t, "ip", append([]string{"-n", tp.gw, f.ip}, args...)...) }
			gw("rule", "add", "pref", "900", "lookup", "main", "suppress_prefixlength", "0")
			gw("rule", "add", "pref", "1000", "fwmark", "0x1000000/0xf000000", "lookup", "101")
			gw("rule", "add", "pref", "1001", "fwmark", "0x2000000/0xf000000", "lookup", "102")
			gw("route", "add", "default", "via", f.lanGW, "dev", "eth0", "table", "101")
			gw("route", "add", "default", "via", f.wanGW, "dev", "ppp0", "table", "102")
		}
		tp.warmNeighbours()
		withMarks := inboundTestPolicy(tp.policy)
		noMarks := withMarks
		noMarks.Marks = nil

		for _, f := range fams {
			// The cellular link owns the default route.
			run(t, "ip", "-n", tp.gw, f.ip, "route", "replace", "default", "via", f.wanGW, "dev", "ppp0")
			tp.apply(noMarks)
			_, err := dialTCP(t, tp.lan, f.checker, hostPort(f.gwLAN, 9000), dropWait, false)
			wantTimeout(t, f.ip+" control: checker via eth0, no marks", err)
			tp.apply(withMarks)
			got, err := dialTCP(t, tp.lan, f.checker, hostPort(f.gwLAN, 9000), openWait, false)
			wantPeer(t, f.ip+" checker via eth0 answered out of eth0", got, err, f.checker)
			// A LAN host's own connection out of the Pi came in on eth0
			// too; its packets must not carry the mark (only replies do),
			// or they would be routed back to the main router.
			got, err = dialTCP(t, tp.lan, "", hostPort(f.client, 8080), openWait, false)
			wantPeer(t, f.ip+" LAN host out through the cellular link", got, err, f.gwWAN)

			// The wired link owns the default route.
			run(t, "ip", "-n", tp.gw, f.ip, "route", "replace", "default", "via", f.lanGW, "dev", "eth0")
			dst := hostPort(f.gwWAN, 51820)
			want := gwLAN4 + " 51820"
			if f.ip == "-6" {
				dst, want = hostPort(f.host, 51820), f.client+" 51820"
			}
			tp.apply(noMarks)
			_, err = askUDP(tp.inet, f.client, dst, dropWait)
			wantTimeout(t, f.ip+" control: forward from the WAN, no marks", err)
			tp.apply(withMarks)
			got, err = askUDP(tp.inet, f.client, dst, openWait)
			wantAnswer(t, f.ip+" forward from the WAN answered out of the WAN", got, err, want)

			fam := map[string]string{"-4": "ipv4", "-6": "ipv6"}[f.ip]
			ct := run(t, "ip", "netns", "exec", tp.gw, "conntrack", "-L", "-f", fam, "-p", "udp", "--orig-src", f.client)
			if !strings.Contains(ct, fmt.Sprintf("mark=%d", markWAN)) {
				t.Errorf("%s forwarded connection lacks the WAN mark:\n%s", fam, ct)
			}
		}
	})
}
