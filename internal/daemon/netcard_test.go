package daemon

import (
	"slices"
	"strings"
	"testing"

	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// netcardHarness is a daemon whose stick is a Huawei HiLink network card
// (modem/testdata's hilink tree: usb0 on 1-1.2), configured by its kind alone.
func netcardHarness(t *testing.T, kind string) *harness {
	h := newHarness(t, sim.Config{}, func(c *config.Config) {
		c.Modem.Kind, c.Modem.APN, c.Modem.USBID, c.Modem.Interface = kind, "", "", -1
	})
	h.plugTree("hilink")
	return h
}

// netSession waits for the next network-card link and its watch.
func (h *harness) netSession() (*fakeNetLink, *linkWatch) {
	h.t.Helper()
	l := receive(h.t, "the network card's link", h.netcard.started)
	w := receive(h.t, "the link watch", h.links.watches)
	return l, w
}

// netUp reports the leased address on cell0 as the kernel would.
func (h *harness) netUp(l *fakeNetLink, w *linkWatch) *fakeProber {
	h.t.Helper()
	w.fn(route.Link{Name: "cell0", Index: 9, Up: true, Local: l.lease.Addr.Addr()})
	return receive(h.t, "the prober", h.probers.made)
}

// With only the kind set, the stick's link comes up under its fixed name,
// the default route goes via its router, the probes, the counters and the
// status name it, and the status says inbound needs the stick's own DMZ.
func TestScenarioNetcardOnline(t *testing.T) {
	for _, kind := range []string{"netcard", "auto"} {
		t.Run(kind, func(t *testing.T) {
			h := netcardHarness(t, kind)
			h.start()
			l, w := h.netSession()
			p := h.netUp(l, w)
			if p.iface != "cell0" {
				t.Errorf("probes bound to %q, want cell0", p.iface)
			}
			p.verdict(true)
			want := "route apply cell0 192.168.8.100 via 192.168.8.1"
			eventually(t, "the default route via the stick", func() bool { return h.has(want) })
			if !h.has("netcard start usb0 as cell0 prefer invalid IP") {
				t.Errorf("calls%s\nwant the stick's usb0 started as cell0", joined(h.rec.all()))
			}
			if h.has("pppd start ppp0 " + h.tty("ttyUSB2")) {
				t.Error("pppd started for a network card")
			}
			st := h.d.Status()
			if st.Link.Interface != "cell0" || !st.Inbound.StickNAT || !strings.HasPrefix(st.State, string(PhaseOnline)) {
				t.Errorf("status link %+v inbound %+v state %q", st.Link, st.Inbound, st.State)
			}
			if got := h.d.cellIface(); got != "cell0" {
				t.Errorf("the traffic sampler reads %q, want cell0", got)
			}
			ups := h.eventsOf(systemd.LinkUp)
			if len(ups) != 1 || ups[0].Fields["INTERFACE"] != "cell0" || ups[0].Fields["PEER"] != "192.168.8.1" {
				t.Errorf("link-up events %+v", ups)
			}
			nat := h.eventsOf(systemd.CarrierNAT)
			if len(nat) != 1 || !strings.Contains(nat[0].Message, "DMZ") || nat[0].Fields["NAT"] != "stick" {
				t.Errorf("NAT events %+v, want one saying the stick's DMZ is needed", nat)
			}
			rules := h.d.currentRules().String()
			if !strings.Contains(rules, "-i cell0") || strings.Contains(rules, "ppp+") {
				t.Errorf("the firewall does not guard cell0 alone:\n%s", rules)
			}
			h.stop()
			if !h.has("netcard stop 192.168.8.100") {
				t.Errorf("the lease was not released at stop%s", joined(h.rec.all()))
			}
		})
	}
}

// A stick whose router stops forwarding (a black hole: the link is up, the
// probes fail) climbs the kind's ladder: renew the lease (asking for the same
// address), the interface down and up, the USB power cycle, after which the
// stick is found under its new name on the same port.
func TestScenarioNetcardBlackHoleClimbs(t *testing.T) {
	h := netcardHarness(t, "netcard")
	h.usb.replug = func() { h.plugTree("hilink-reenum") }
	h.start()
	for range 4 { // the first link, two renewals, the bounce
		l, w := h.netSession()
		h.netUp(l, w).verdict(false)
		receive(t, "the link to end", l.Done())
	}
	l, w := h.netSession() // after the power cycle
	h.netUp(l, w).verdict(true)
	steps := h.waitSteps(4)
	want := []string{"redial 1 (path)", "redial 2 (path)", "modem-reset 1 (path)", "power-cycle 1 (path)"}
	if !slices.Equal(steps, want) {
		t.Fatalf("steps %q, want %q", steps, want)
	}
	var actions []string
	for _, e := range h.eventsOf(systemd.RecoveryStep) {
		actions = append(actions, e.Fields["ACTION"])
	}
	if !slices.Equal(actions, []string{"renew-lease", "renew-lease", "interface-down-up", "power-cycle"}) {
		t.Errorf("actions %q", actions)
	}
	got := h.rec.all()
	order := []string{
		"netcard start usb0 as cell0 prefer invalid IP",
		"netcard start usb0 as cell0 prefer 192.168.8.100",
		"netcard bounce cell0",
		"usb cycle 1-1 port 2",
		"netcard start enx0c5b8f279a64 as cell0 prefer 192.168.8.100",
	}
	i := 0
	for _, c := range got {
		if i < len(order) && c == order[i] {
			i++
		}
	}
	if i != len(order) {
		t.Fatalf("calls%s\nwant in order %q", joined(got), order)
	}
	if strings.Contains(h.modem.Transcript(), "AT+CFUN") {
		t.Error("a network card without an AT port was sent AT")
	}
	h.stop()
}

// A lease the stick stops renewing ends the session like a PPP link that
// failed: the next session asks for the address again.
func TestScenarioNetcardLeaseLost(t *testing.T) {
	h := netcardHarness(t, "netcard")
	h.start()
	l, w := h.netSession()
	h.netUp(l, w)
	l.lose()
	l, w = h.netSession()
	h.netUp(l, w)
	if steps := h.waitSteps(1); steps[0] != "redial 1 (ppp)" {
		t.Errorf("steps %q, want a renewal for the lost lease", steps)
	}
	h.stop()
}
