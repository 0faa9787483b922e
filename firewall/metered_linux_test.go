package firewall

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestSystemCap walks the cap's states in one namespace set: open, the
// allowlist, the block (the health port and the gateway's own traffic still
// pass), open again, and no cap at all; then Cleanup leaves nothing.
func TestSystemCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.inet, ":8080")
		serveTCP(t, tp.gw, ":9000")
		fw := tp.firewall()
		apply := func(c CapAction) {
			t.Helper()
			p := tp.policy
			p.Cap = c
			p.CapAllow = []netip.Prefix{netip.MustParsePrefix("192.168.50.10/32"), netip.MustParsePrefix("fd50::10/128")}
			if err := fw.Apply(context.Background(), tp.ruleset(p)); err != nil {
				t.Fatalf("Apply cap %d: %v", c, err)
			}
		}
		fams := []struct{ ok, other, inet, gwWAN string }{
			{"192.168.50.10", "192.168.50.11", "203.0.113.2", "203.0.113.1"},
			{"fd50::10", "fd50::11", "2001:db8::2", "2001:db8::1"},
		}
		check := func(state string, okPasses, otherPasses bool) {
			t.Helper()
			for _, f := range fams {
				dst := net.JoinHostPort(f.inet, "8080")
				for _, c := range []struct {
					src  string
					pass bool
				}{{f.ok, okPasses}, {f.other, otherPasses}} {
					_, err := dialTCP(t, tp.lan, c.src, dst, openWait, false)
					switch {
					case c.pass && err != nil:
						t.Errorf("%s: %s to the internet: %v, want through", state, c.src, err)
					case !c.pass:
						wantRejected(t, state+": TCP from "+c.src, err)
						wantRejected(t, state+": UDP from "+c.src, probeUDP(tp.lan, c.src, net.JoinHostPort(f.inet, "53")))
					}
				}
				got, err := dialTCP(t, tp.inet, "", net.JoinHostPort(f.gwWAN, "9000"), openWait, false)
				wantPeer(t, state+": internet to the health port", got, err, f.inet)
				got, err = dialTCP(t, tp.gw, "", dst, openWait, false)
				wantPeer(t, state+": the gateway's own connection out", got, err, f.gwWAN)
			}
		}
		apply(CapOpen)
		check("under the cap", true, true)
		apply(CapAllowlist)
		check("allowlist", true, false)
		apply(CapBlock)
		check("block", false, false)
		apply(CapBlock) // safe to repeat: nothing to change
		if n := tp.execCount(); n == 0 {
			t.Fatal("no iptables run counted")
		}
		before := tp.execCount()
		apply(CapBlock)
		if n := tp.execCount() - before; n != 2 {
			t.Errorf("a repeated Apply ran %d programs, want 2 (one save per family)", n)
		}
		apply(CapOpen)
		check("lifted", true, true)
		apply(CapOff)
		if s := tp.save(); strings.Contains(s, chainCap) {
			t.Errorf("no cap configured, yet %s is there:\n%s", chainCap, s)
		}
		apply(CapBlock)
		if err := fw.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s := tp.save(); strings.Contains(s, ChainPrefix) {
			t.Errorf("Cleanup left rules:\n%s", rulesOnly(s))
		}
	})
}

// TestSystemHealthPort: health.allow_from lets the listed checker in and
// keeps another internet host out, and the health counter counts the
// port's inbound bytes, the refused ones too, in both families.
func TestSystemHealthPort(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		run(t, "ip", "-n", tp.inet, "addr", "add", "203.0.113.3/24", "dev", "wan0")
		run(t, "ip", "-n", tp.inet, "addr", "add", "2001:db8::3/64", "dev", "wan0", "nodad")
		serveTCP(t, tp.gw, ":9000")
		fw := tp.firewall()
		if c, err := fw.MeterCounters(context.Background()); err != nil || c.Get(CounterHealth) != (Counter{}) {
			t.Fatalf("counter before any rule: %+v, %v; want zero", c, err)
		}
		p := tp.policy
		p.HealthAllowFrom = []netip.Prefix{netip.MustParsePrefix("203.0.113.2/32"), netip.MustParsePrefix("2001:db8::2/128")}
		if err := fw.Apply(context.Background(), tp.ruleset(p)); err != nil {
			t.Fatal(err)
		}
		var last Counter
		grew := func(what string) {
			t.Helper()
			m, err := fw.MeterCounters(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c := m.Get(CounterHealth)
			if c.Packets <= last.Packets || c.Bytes <= last.Bytes {
				t.Errorf("%s: health counter %+v did not grow from %+v", what, c, last)
			}
			last = c
		}
		for _, f := range []struct{ checker, scanner, gwWAN string }{
			{"203.0.113.2", "203.0.113.3", "203.0.113.1"},
			{"2001:db8::2", "2001:db8::3", "2001:db8::1"},
		} {
			dst := net.JoinHostPort(f.gwWAN, "9000")
			got, err := dialTCP(t, tp.inet, f.checker, dst, openWait, false)
			wantPeer(t, "the listed checker", got, err, f.checker)
			grew("after the checker's connection")
			_, err = dialTCP(t, tp.inet, f.scanner, dst, dropWait, false)
			wantTimeout(t, "an unlisted host to the health port", err)
			grew("after the scanner's SYNs")
		}
	})
}

// TestSystemOwnCounter: the own counters count what the gateway itself
// sends and receives over the WAN, in both families, and nothing of what
// it forwards for the LAN. The gateway's own neighbour discovery and router
// solicitations on the WAN are its own too: a few hundred bytes at most,
// against the 64 kB each connection sends.
func TestSystemOwnCounter(t *testing.T) {
	const payload, noise = 64 << 10, 2048
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.inet, ":8080")
		fw := tp.firewall()
		if err := fw.Apply(context.Background(), tp.ruleset(tp.policy)); err != nil {
			t.Fatal(err)
		}
		read := func() MeterCounters {
			t.Helper()
			m, err := fw.MeterCounters(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		for _, f := range []struct{ lan, inet string }{{"192.168.50.10", "203.0.113.2"}, {"fd50::10", "2001:db8::2"}} {
			dst := net.JoinHostPort(f.inet, "8080")
			before := read()
			sendTCP(t, tp.lan, f.lan, dst, payload)
			fwd := read()
			if in, out := fwd.BytesSince(before, CounterOwnIn), fwd.BytesSince(before, CounterOwnOut); in+out > noise {
				t.Errorf("%s: a forwarded connection counted as the gateway's own: in %d, out %d bytes", f.inet, in, out)
			}
			sendTCP(t, tp.gw, "", dst, payload)
			own := read()
			if in, out := own.BytesSince(fwd, CounterOwnIn), own.BytesSince(fwd, CounterOwnOut); out < payload || in == 0 {
				t.Errorf("%s: the gateway's own connection sent %d bytes: in %d, out %d counted", f.inet, payload, in, out)
			}
		}
	})
}

// sendTCP connects from ns (from src, if set) and sends n bytes.
func sendTCP(t *testing.T, ns, src, dst string, n int) {
	t.Helper()
	err := inNS(ns, func() error {
		d := net.Dialer{Timeout: openWait}
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		c, err := d.Dial("tcp", dst)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write(make([]byte, n)); err != nil {
			return err
		}
		// The server closes once it read everything: then every byte
		// crossed the rules.
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(openWait))
		_, err = io.Copy(io.Discard, c)
		return err
	})
	if err != nil {
		t.Fatalf("sending %d bytes from %s to %s: %v", n, ns, dst, err)
	}
}

func TestCountersSince(t *testing.T) {
	prev := MeterCounters{"ipv4 own-in": {2, 500}, "ipv6 own-in": {1, 100}}
	cur := MeterCounters{"ipv4 own-in": {3, 800}, "ipv6 own-in": {1, 40}} // ipv6 started again
	if n := cur.BytesSince(prev, CounterOwnIn); n != 300+40 {
		t.Errorf("BytesSince = %d, want 340 (300 grown, 40 since a restart)", n)
	}
	if g := cur.Get(CounterOwnIn); g != (Counter{4, 840}) {
		t.Errorf("Get = %+v, want {4 840}", g)
	}
}

func TestJumpCounter(t *testing.T) {
	save := "# Generated\n*filter\n:INPUT ACCEPT [5:300]\n[0:0] -A INPUT -j FAILBERRY-INPUT\n" +
		"[12:3456] -A FAILBERRY-INPUT -i ppp+ -p tcp -m tcp --dport 9000 -j FAILBERRY-HEALTH\n" +
		"[1:60] -A FAILBERRY-INPUT -i ppp+ -j DROP\nCOMMIT\n"
	c, err := jumpCounter(save, chainInput, chainHealth)
	if err != nil || c != (Counter{12, 3456}) {
		t.Errorf("jumpCounter = %+v, %v; want {12 3456}", c, err)
	}
	if _, err := jumpCounter("[x:1] -A FAILBERRY-INPUT -j FAILBERRY-HEALTH", chainInput, chainHealth); err == nil {
		t.Error("a garbled counter was read")
	}
}
