package daemon

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// TestScenarioSplitMode: in split mode the main table is left alone, the
// LAN's forwarded traffic is steered to cellular from the start, and the
// Pi's own traffic follows only while the probes through eth0 fail, with an
// event each way; the status says where it goes.
func TestScenarioSplitMode(t *testing.T) {
	h := newHarness(t, sim.Config{}, func(c *config.Config) { c.Route.Mode = "split" })
	h.start()
	wired := receive(t, "the wired probes", h.probers.made)
	if wired.iface != "eth0" {
		t.Fatalf("the wired probes are bound to %q, want eth0", wired.iface)
	}
	eventually(t, "the steering", func() bool { return len(h.routes.steer().Forward) > 0 })
	if s := h.routes.steer(); !slices.Equal(s.Forward, []string{"eth0"}) || s.Cellular != "ppp0" || s.Own {
		t.Fatalf("steering %+v, want eth0's forwarded traffic to ppp0 and the Pi's own wired", s)
	}
	_, w := h.session()
	cell := h.up(w)
	if cell.iface != "ppp0" {
		t.Fatalf("the cellular probes are bound to %q", cell.iface)
	}
	if got := h.d.Status().Route; got.Mode != "split" || got.OwnTraffic != "wired" || got.Wired == nil {
		t.Errorf("route status %+v, want split, own traffic wired, the wired probes shown", got)
	}

	wired.verdict(true) // the first verdict: the wired path works; nothing moves
	wired.verdict(false)
	eventually(t, "the Pi's own traffic on cellular", func() bool { return h.routes.steer().Own })
	if got := h.d.Status().Route.OwnTraffic; got != "cellular" {
		t.Errorf("status says the Pi's own traffic goes %q", got)
	}
	wired.verdict(true)
	eventually(t, "the Pi's own traffic back on wired", func() bool { return !h.routes.steer().Own })
	var via []string
	for _, e := range h.eventsOf(systemd.OwnTraffic) {
		via = append(via, e.Fields["VIA"])
	}
	if !slices.Equal(via, []string{"cellular", "wired"}) {
		t.Errorf("own-traffic events %v, want cellular then wired", via)
	}
	h.stop()
}

func TestCheckRoute(t *testing.T) {
	for _, tc := range []struct{ src, key string }{
		{"route:\n  mode: split\n  wired_interface: \"\"\n", "route.wired_interface"},
		{"route:\n  mode: split\nfirewall:\n  lan_interfaces: [eth+]\n", "firewall.lan_interfaces"},
	} {
		_, err := config.Parse("f.yaml", []byte("modem:\n  apn: internet\n"+tc.src), ConfigChecks...)
		var ce *config.Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.Contains(err.Error(), tc.key+":") {
			t.Errorf("%q: %v, want one problem at %s", tc.src, err, tc.key)
		}
	}
	for _, src := range []string{"route:\n  mode: split\n", "firewall:\n  lan_interfaces: [eth+]\n"} {
		if _, err := config.Parse("f.yaml", []byte("modem:\n  apn: internet\n"+src), ConfigChecks...); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}
