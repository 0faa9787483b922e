package daemon

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem/pppd"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// TestScenarioCarrierNATWarnedOncePerAddress: a carrier-NAT address (the
// harness's cellLocal is in 100.64.0.0/10) is reported in the journal once,
// not again when a redial brings the same address back, and the status
// says inbound is blocked; a public address is not reported.
func TestScenarioCarrierNATWarnedOncePerAddress(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	p, w := h.session()
	h.up(w)
	if got := h.d.Status().Inbound; !got.CarrierNAT || got.Address != cellLocal.String() {
		t.Errorf("status inbound %+v, want carrier NAT at %s", got, cellLocal)
	}
	p.exit(&pppd.ExitError{Code: pppd.ExitFatal})
	p, w = h.session()
	h.up(w)
	nat := h.eventsOf(systemd.CarrierNAT)
	if len(nat) != 1 || nat[0].Fields["LOCAL"] != cellLocal.String() {
		t.Fatalf("carrier-nat events %+v, want one for %s", nat, cellLocal)
	}
	p.exit(&pppd.ExitError{Code: pppd.ExitFatal})
	_, w = h.session()
	public := netip.MustParseAddr("203.0.113.2")
	w.fn(route.Link{Name: "ppp0", Index: 7, Up: true, Local: public, Peer: cellPeer})
	receive(t, "the prober", h.probers.made)
	if n := len(h.eventsOf(systemd.CarrierNAT)); n != 1 {
		t.Errorf("%d carrier-nat events after a public address, want still 1", n)
	}
	if got := h.d.Status().Inbound; got.CarrierNAT || got.Address != public.String() {
		t.Errorf("status inbound %+v, want reachable at %s", got, public)
	}
	h.stop()
}

// CheckFirewall points the firewall's own refusal of a forward at the
// forward's key and line, the way every other config problem is reported.
func TestCheckFirewallNamesTheForward(t *testing.T) {
	src := "modem:\n  apn: internet\nfirewall:\n  forwards:\n    - {proto: udp, port: 51820, to: 192.168.1.10}\n" +
		"    - {proto: tcp, port: 9000, to: 192.168.1.11}\n"
	_, err := config.Parse("f.yaml", []byte(src), ConfigChecks...)
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("Parse = %v, want one problem", err)
	}
	p := ce.Problems[0]
	if p.Line != 6 || p.Key != "firewall.forwards[1]" || !strings.Contains(p.Msg, "9000") {
		t.Errorf("problem %+v, want line 6, firewall.forwards[1], about the health port", p)
	}
	if _, err := config.Parse("f.yaml", []byte(src[:strings.Index(src, "    - {proto: tcp")]), ConfigChecks...); err != nil {
		t.Errorf("a valid forward: %v", err)
	}
}

// TestScenarioDNSFollowsTheAddress: the link's public address reaches the
// DNS provider (here the command provider, a real program) once the path
// passes its probes, not before, and the publication is a journal event.
func TestScenarioDNSFollowsTheAddress(t *testing.T) {
	out := filepath.Join(t.TempDir(), "published")
	script := filepath.Join(t.TempDir(), "update-dns")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$FAILBERRY_DDNS_TYPE $FAILBERRY_DDNS_ADDR\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sim.Config{}, func(c *config.Config) {
		c.DNS.Provider, c.DNS.Name, c.DNS.Command.Argv = "command", "vpn", []string{script}
	})
	h.start()
	_, w := h.session()
	public := netip.MustParseAddr("203.0.113.2")
	w.fn(route.Link{Name: "ppp0", Index: 7, Up: true, Local: public, Peer: cellPeer})
	pr := receive(t, "the prober", h.probers.made)
	time.Sleep(200 * time.Millisecond)
	if b, _ := os.ReadFile(out); len(b) != 0 {
		t.Fatalf("published %q before the path passed its probes", b)
	}
	pr.verdict(true)
	eventually(t, "the dns-published event", func() bool { return len(h.eventsOf(systemd.DNSPublished)) == 1 })
	if b, _ := os.ReadFile(out); string(b) != "A 203.0.113.2\n" {
		t.Errorf("the provider got %q, want the A record 203.0.113.2", b)
	}
	if dns := h.d.Status().Inbound.DNS; dns == nil || dns.Records[0].Published != public {
		t.Errorf("status dns %+v, want %s published", dns, public)
	}
	h.stop()
}
