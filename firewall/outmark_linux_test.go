package firewall

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSystemForgetMarked is gateway mode's failback in a namespace set: the
// connections that went out by the WAN (a LAN host's and the gateway's own)
// carry the out-mark and are the only ones ForgetMarked removes; a
// connection that came in on the WAN (the health check) keeps its own mark
// and stays, and so does one that never touched the WAN.
func TestSystemForgetMarked(t *testing.T) {
	const mask, in, out = 0x0f000000, 0x02000000, 0x03000000
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.inet, ":8080")
		serveTCP(t, tp.gw, ":9000")
		serveTCP(t, tp.gw, ":2222")
		p := tp.policy
		p.Marks = []InterfaceMark{{Interface: "eth0", Mark: 0x01000000}, {Interface: "ppp0", Mark: in}}
		p.MarkMask = mask
		p.OutMarks = []InterfaceMark{{Interface: "ppp0", Mark: out}}
		if err := tp.firewall().Apply(context.Background(), tp.ruleset(p)); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		for _, f := range []struct{ fam, inet, gwWAN, gwLAN string }{
			{"ipv4", "203.0.113.2", "203.0.113.1", "192.168.50.1"},
			{"ipv6", "2001:db8::2", "2001:db8::1", "fd50::1"},
		} {
			for _, c := range []struct{ ns, dst string }{
				{tp.lan, net.JoinHostPort(f.inet, "8080")},   // forwarded out by the WAN
				{tp.gw, net.JoinHostPort(f.inet, "8080")},    // the gateway's own, out by the WAN
				{tp.inet, net.JoinHostPort(f.gwWAN, "9000")}, // in on the WAN
				{tp.lan, net.JoinHostPort(f.gwLAN, "2222")},  // never on the WAN
			} {
				if _, err := dialTCP(t, c.ns, "", c.dst, openWait, true); err != nil {
					t.Fatalf("%s: connection to %s: %v", f.fam, c.dst, err)
				}
			}
		}
		list := func(fam string) []string {
			var lines []string
			for _, l := range strings.Split(run(t, "ip", "netns", "exec", tp.gw, "conntrack", "-L", "-p", "tcp", "-f", fam), "\n") {
				if strings.Contains(l, "dport=8080") || strings.Contains(l, "dport=9000") || strings.Contains(l, "dport=2222") {
					lines = append(lines, l)
				}
			}
			return lines
		}
		marked := func(l string) bool { return strings.Contains(l, "mark=50331648 ") } // 0x03000000
		for _, fam := range []string{"ipv4", "ipv6"} {
			n := 0
			for _, l := range list(fam) {
				if marked(l) != strings.Contains(l, "dport=8080") {
					t.Errorf("%s before: %q: want the out-mark exactly on connections out by the WAN", fam, l)
				}
				if marked(l) {
					n++
				}
			}
			if n != 2 {
				t.Fatalf("%s: %d connections carry the out-mark, want 2:\n%s", fam, n, strings.Join(list(fam), "\n"))
			}
		}
		var n uint
		if err := inNS(tp.gw, func() (err error) { n, err = ForgetMarked(out, mask); return err }); err != nil || n != 4 {
			t.Fatalf("ForgetMarked = %d, %v; want 4 (two per family)", n, err)
		}
		for _, fam := range []string{"ipv4", "ipv6"} {
			left := list(fam)
			if len(left) != 2 || strings.Contains(strings.Join(left, "\n"), "dport=8080") {
				t.Errorf("%s after: want the 9000 and 2222 connections alone, got:\n%s", fam, strings.Join(left, "\n"))
			}
		}
	})
}

// TestSystemNoRedirects: the gateway forwards a LAN host's packets back out
// of the interface they came in on (to a router on the same LAN: here the
// LAN namespace's second address), which makes the kernel send the host a
// redirect. With NoRedirects none arrives, in either family; without the
// policy they do, so the check can fail.
func TestSystemNoRedirects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		run(t, "ip", "-n", tp.gw, "route", "add", "198.18.0.1/32", "via", "192.168.50.11", "dev", "eth0")
		// IPv6 redirects name a link-local next hop only (as a router's
		// address learnt from its advertisements is).
		ll := waitLinkLocal(t, tp.lan)
		waitLinkLocal(t, tp.gw)
		run(t, "ip", "-n", tp.gw, "-6", "route", "add", "2001:db8:ff::1/128", "via", ll, "dev", "eth0")
		run(t, "ip", "netns", "exec", tp.lan, "iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "redirect")
		run(t, "ip", "netns", "exec", tp.lan, "ip6tables", "-A", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", "137")
		counts := func() (v4, v6 int) {
			for i, tool := range []string{"iptables", "ip6tables"} {
				out := run(t, "ip", "netns", "exec", tp.lan, tool, "-nvxL", "INPUT")
				for _, l := range strings.Split(out, "\n") {
					if f := strings.Fields(l); len(f) > 2 && (strings.Contains(l, "icmptype 5") || strings.Contains(l, "ipv6-icmptype 137")) {
						n, _ := strconv.Atoi(f[0])
						if i == 0 {
							v4 = n
						} else {
							v6 = n
						}
					}
				}
			}
			return v4, v6
		}
		pings := func() {
			for _, p := range []struct{ src, dst string }{{"192.168.50.10", "198.18.0.1"}, {"fd50::10", "2001:db8:ff::1"}} {
				// Nothing answers (the next hop does not forward): only the redirects count.
				_ = exec.Command("ip", "netns", "exec", tp.lan, "ping", "-c", "3", "-i", "0.3", "-W", "1", "-I", p.src, p.dst).Run()
			}
		}
		p := tp.policy
		p.NoRedirects = []string{"eth0"}
		tp.apply(p)
		pings()
		if v4, v6 := counts(); v4 != 0 || v6 != 0 {
			t.Errorf("with NoRedirects the LAN host received %d IPv4 and %d IPv6 redirects, want none", v4, v6)
		}
		if err := tp.firewall().Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
		pings()
		v4, v6 := counts()
		if v4 == 0 || v6 == 0 {
			t.Errorf("without the policy the LAN host received %d IPv4 and %d IPv6 redirects: the check proves nothing", v4, v6)
		}
		t.Logf("without the policy: %d IPv4 and %d IPv6 redirects", v4, v6)
	})
}

// waitLinkLocal waits for eth0's link-local address in ns to finish
// duplicate address detection and returns it.
func waitLinkLocal(t *testing.T, ns string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := run(t, "ip", "-n", ns, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
		if f := strings.Fields(out); len(f) > 3 && !strings.Contains(out, "tentative") {
			return strings.Split(f[3], "/")[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no usable link-local address on eth0 in %s: %q", ns, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
