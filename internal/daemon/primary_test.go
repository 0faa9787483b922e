package daemon

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/config/value"
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
	rec := httptest.NewRecorder()
	h.d.handleDrill(rec, httptest.NewRequest("POST", "/drill?for=1m", nil))
	if rec.Code != 409 || h.routes.steer().Own {
		t.Errorf("a drill in split mode: %d, own traffic on cellular %v; want it refused (409) and nothing moved", rec.Code, h.routes.steer().Own)
	}
	h.stop()
}

func TestCheckRoute(t *testing.T) {
	for _, tc := range []struct{ src, key string }{
		{"route:\n  mode: split\n  wired_interface: \"\"\n", "route.wired_interface"},
		{"route:\n  mode: split\nfirewall:\n  lan_interfaces: [eth+]\n", "firewall.lan_interfaces"},
		{"route:\n  mode: gateway\nfirewall:\n  enabled: false\n", "firewall.enabled"},
		{"route:\n  mode: gateway\n  wired_interface: eth1\n", "firewall.masquerade_out"},
		{"route:\n  mode: gateway\nprimary:\n  quorum: 4\n", "primary"},
	} {
		_, err := config.Parse("f.yaml", []byte("modem:\n  apn: internet\n"+tc.src), ConfigChecks...)
		var ce *config.Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.Contains(err.Error(), tc.key+":") {
			t.Errorf("%q: %v, want one problem at %s", tc.src, err, tc.key)
		}
	}
	for _, src := range []string{"route:\n  mode: split\n", "firewall:\n  lan_interfaces: [eth+]\n", "route:\n  mode: gateway\n",
		"route:\n  mode: gateway\n  wired_interface: eth1\nfirewall:\n  masquerade_out: [eth1]\n"} {
		if _, err := config.Parse("f.yaml", []byte("modem:\n  apn: internet\n"+src), ConfigChecks...); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

const forgetCall = "conntrack forget mark 0x3000000/0xf000000, own traffic on cellular false"

func forgets(h *harness) int {
	n := 0
	for _, c := range h.rec.all() {
		if strings.HasPrefix(c, "conntrack forget") {
			if c != forgetCall {
				panic("unexpected forget: " + c)
			}
			n++
		}
	}
	return n
}

// TestScenarioGatewayMode: in gateway mode everything stays on the primary
// while its probes pass (only the cellular probes' own rule); when they
// fail, the LAN's and the Pi's traffic is steered to cellular with a
// failover event; when they pass again, traffic moves back only after the
// hold, with a failback event, and the connections that went out over
// cellular are forgotten after the steering moved back, once.
func TestScenarioGatewayMode(t *testing.T) {
	h := newHarness(t, sim.Config{}, func(c *config.Config) {
		c.Route.Mode = "gateway"
		c.Primary.Hold = value.Duration(300 * time.Millisecond)
	})
	h.start()
	wired := receive(t, "the primary probes", h.probers.made)
	if wired.iface != "eth0" {
		t.Fatalf("the primary probes are bound to %q, want eth0", wired.iface)
	}
	_, w := h.session()
	h.up(w)
	eventually(t, "the cellular probes' rule alone", func() bool { return h.routes.steer().Cellular == "ppp0" })
	if s := h.routes.steer(); len(s.Forward) > 0 || s.Own {
		t.Fatalf("steering %+v while the primary works, want nothing but the cellular probes' rule", s)
	}
	eventually(t, "the start's forget of a crashed run's connections", func() bool { return forgets(h) == 1 })

	wired.verdict(false)
	eventually(t, "failover", func() bool { s := h.routes.steer(); return s.Own && len(s.Forward) > 0 })
	if s := h.routes.steer(); !slices.Equal(s.Forward, []string{"eth0"}) {
		t.Errorf("failover steering %+v, want eth0's forwarded traffic to cellular", s)
	}
	if got := h.d.Status().Route; got.OwnTraffic != "cellular" || got.Uplink == nil || got.Uplink.Active != "cellular" || got.Uplink.BackAt != nil {
		t.Errorf("status after failover: %+v, uplink %+v; want cellular, nothing scheduled", got, got.Uplink)
	}
	wired.verdict(true)
	start := time.Now()
	eventually(t, "the hold's end in the status", func() bool { u := h.d.Status().Route.Uplink; return u != nil && u.BackAt != nil })
	eventually(t, "failback", func() bool { return !h.routes.steer().Own })
	if held := time.Since(start); held < 250*time.Millisecond {
		t.Errorf("failback %v after the primary passed, want after the 300ms hold", held)
	}
	eventually(t, "failback's forget", func() bool { return forgets(h) == 2 })
	fo, fb := h.eventsOf(systemd.Failover), h.eventsOf(systemd.Failback)
	if len(fo) != 1 || len(fb) != 1 || fo[0].Fields["DRILL"] != "0" || fb[0].Fields["INTERFACE"] != "eth0" {
		t.Errorf("failover events %+v, failback events %+v; want one each, no drill", fo, fb)
	}
	h.stop()
	if n := forgets(h); n != 2 {
		t.Errorf("%d forgets, want 2 (start, failback)", n)
	}
}

// TestScenarioGatewayDrill: a drill fails over at once without any probe
// failing, is stored so a restarted daemon carries it on, ends on its own
// (or on a stop), and is followed by the hold and a failback; the file is
// gone afterwards.
func TestScenarioGatewayDrill(t *testing.T) {
	h := newHarness(t, sim.Config{}, func(c *config.Config) {
		c.Route.Mode = "gateway"
		c.Primary.Hold = value.Duration(200 * time.Millisecond)
	})
	// What a daemon killed in the middle of a drill left behind.
	stored := h.d.drillFile()
	if err := os.MkdirAll(filepath.Dir(stored.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := stored.Save(time.Now().Add(700 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	h.start()
	receive(t, "the primary probes", h.probers.made).verdict(true)
	_, w := h.session()
	h.up(w)
	eventually(t, "the resumed drill's failover", func() bool { return h.routes.steer().Own })
	eventually(t, "the drill's end and failback", func() bool { return !h.routes.steer().Own })
	if _, err := os.Stat(stored.Path); !os.IsNotExist(err) {
		t.Errorf("the drill file is still there after the drill: %v", err)
	}

	// A new drill through the control API, stopped early.
	call := func(method, url string) int {
		rec := httptest.NewRecorder()
		h.d.handleDrill(rec, httptest.NewRequest(method, url, nil))
		return rec.Code
	}
	if code := call("POST", "/drill?for=0s"); code != 400 {
		t.Errorf("a drill of 0s: %d, want 400", code)
	}
	if code := call("POST", "/drill?for=10m"); code != 200 {
		t.Fatalf("drill: %d", code)
	}
	eventually(t, "the drill's failover", func() bool { return h.routes.steer().Own })
	if _, err := os.Stat(stored.Path); err != nil {
		t.Errorf("the running drill is not stored: %v", err)
	}
	if code := call("DELETE", "/drill"); code != 200 {
		t.Fatalf("drill stop: %d", code)
	}
	eventually(t, "failback after the stop", func() bool { return !h.routes.steer().Own })
	var drills []string
	for _, e := range append(h.eventsOf(systemd.Failover), h.eventsOf(systemd.Failback)...) {
		drills = append(drills, e.Kind+e.Fields["DRILL"])
	}
	if want := []string{"failover1", "failover1", "failback1", "failback1"}; !slices.Equal(drills, want) {
		t.Errorf("events %v, want %v", drills, want)
	}
	h.stop()
}
