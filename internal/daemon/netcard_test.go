package daemon

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/failberry/failberry/health"
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

// atStickHarness is a daemon whose stick is a Huawei ME909s in NCM mode
// (modem/testdata's ncm-at tree: wwan0 and the AT ports ttyUSB0 and
// ttyUSB1 on 1-1.3), with the simulated modem behind ttyUSB0, the port
// discovery picks by PPP's rule.
func atStickHarness(t *testing.T, simCfg sim.Config, edit func(*config.Config)) *harness {
	h := newHarness(t, simCfg, func(c *config.Config) {
		c.Modem.Kind, c.Modem.APN, c.Modem.USBID, c.Modem.Interface = "auto", "", "", -1
		if edit != nil {
			edit(c)
		}
	})
	h.plugTree("ncm-at")
	h.serial.plug(h.tty("ttyUSB0"))
	return h
}

// A network card with an AT port: its signal, operator and SIM state are in
// the status and the metrics, as a PPP modem's; the stick's router keeps its
// own APN profile (no AT+CGDCONT) and nothing is dialled.
func TestScenarioNetcardATStatus(t *testing.T) {
	h := atStickHarness(t, sim.Config{Operator: "Stick Mobile", RSSI: 15}, nil)
	h.start()
	l, w := h.netSession()
	h.netUp(l, w).verdict(true)
	if !h.has("netcard start wwan0 as cell0 prefer invalid IP") {
		t.Fatalf("calls%s\nwant wwan0 started as cell0", joined(h.rec.all()))
	}
	st := h.d.Status()
	if st.Modem.SIM != "ready" || st.Modem.Operator != "Stick Mobile" || st.Modem.SignalDBM == nil || *st.Modem.SignalDBM != -83 {
		t.Errorf("status modem %+v, want ready, Stick Mobile, -83 dBm (CSQ 15)", st.Modem)
	}
	rec := httptest.NewRecorder()
	health.NewStatusHandler(h.d).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "failberry_signal_dbm -83") {
		t.Errorf("metrics lack the stick's signal:\n%s", rec.Body.String())
	}
	tr := h.modem.Transcript()
	for _, c := range []string{"AT+CPIN?", "AT+CSQ", "AT+COPS?"} {
		if !strings.Contains(tr, c) {
			t.Errorf("the AT port was not asked %s:\n%s", c, tr)
		}
	}
	for _, c := range []string{"AT+CGDCONT", "ATD"} {
		if strings.Contains(tr, c) {
			t.Errorf("a network card's modem was sent %s:\n%s", c, tr)
		}
	}
	h.stop()
}

// With an AT port, the kind's modem-reset rung is PPP's AT+CFUN reset, not
// the interface down and up; the journal's ACTION says so.
func TestScenarioNetcardATResetClimbs(t *testing.T) {
	h := atStickHarness(t, sim.Config{}, nil)
	h.usb.replug = func() { h.plugTree("ncm-at") }
	h.start()
	for range 4 { // the first link, two renewals, the AT reset
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
	if !slices.Equal(actions, []string{"renew-lease", "renew-lease", "modem-reset", "power-cycle"}) {
		t.Errorf("actions %q", actions)
	}
	if h.has("netcard bounce cell0") {
		t.Error("the interface was bounced though the stick has an AT port")
	}
	tr := h.modem.Transcript()
	if i, j := strings.Index(tr, "AT+CFUN=4"), strings.Index(tr, "-> AT+CFUN=1\n"); i < 0 || j < i {
		t.Errorf("no AT+CFUN=4 then AT+CFUN=1 in the transcript:\n%s", tr)
	}
	if !h.has("usb cycle 1-1 port 3") {
		t.Errorf("calls%s\nwant the stick's port 3 cycled", joined(h.rec.all()))
	}
	h.stop()
}

// A stick whose SIM wants a PIN gets modem.pin over its AT port; a PIN the
// SIM rejected is never sent again, however often the session is retried,
// and the SIM problem never climbs the ladder.
func TestScenarioNetcardATWrongPINSentOnce(t *testing.T) {
	h := atStickHarness(t, sim.Config{PIN: "1234"}, func(c *config.Config) { c.Modem.PIN = "4321" })
	h.start()
	eventually(t, "three SIM failures", func() bool { return len(h.eventsOf(systemd.SIMError)) >= 3 })
	if n := strings.Count(h.modem.Transcript(), `AT+CPIN="4321"`); n != 1 {
		t.Errorf("the wrong PIN was sent %d times, want once:\n%s", n, h.modem.Transcript())
	}
	for _, s := range h.steps() {
		if !strings.HasPrefix(s, "redial 1 (sim)") {
			t.Errorf("step %q: a SIM problem climbed the ladder", s)
		}
	}
	if h.has("netcard start wwan0 as cell0 prefer invalid IP") {
		t.Error("DHCP started on a stick whose SIM is locked")
	}
	h.stop()
}

// The right PIN unlocks the stick's SIM, then its link comes up.
func TestScenarioNetcardATPIN(t *testing.T) {
	h := atStickHarness(t, sim.Config{PIN: "1234"}, func(c *config.Config) { c.Modem.PIN = "1234" })
	h.start()
	l, w := h.netSession()
	h.netUp(l, w).verdict(true)
	if st := h.d.Status(); st.Modem.SIM != "ready" {
		t.Errorf("SIM %q after the PIN, want ready", st.Modem.SIM)
	}
	h.stop()
}
