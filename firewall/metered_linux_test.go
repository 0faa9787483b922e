package firewall

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
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
		if c, err := fw.HealthCounter(context.Background()); err != nil || c != (Counter{}) {
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
			c, err := fw.HealthCounter(context.Background())
			if err != nil {
				t.Fatal(err)
			}
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
