package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/linkstats"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem/pppd"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// The scenario tests run the daemon's main loop against the fakes of
// fakes_test.go and assert on the OS calls they recorded and on the
// ladder's steps, the way tailscale's router tests replay desired states
// against a fake.

var peerLost = &pppd.ExitError{Code: pppd.ExitHangup}

// TestScenarioLinkUpThenPeer: pppd sets the local address, then the peer.
// The route follows both steps; link-up is announced once, with the peer
// (issue 11: the first event said peer="invalid IP").
func TestScenarioLinkUpThenPeer(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	_, w := h.session()
	l := route.Link{Name: "ppp0", Index: 7, Up: true, Local: cellLocal}
	w.fn(l)
	eventually(t, "the route on the local address", func() bool { return h.has("route apply ppp0 " + cellLocal.String()) })
	if n := len(h.eventsOf(systemd.LinkUp)); n != 0 {
		t.Fatalf("%d link-up events before the peer is known", n)
	}
	l.Peer = cellPeer
	w.fn(l)
	receive(t, "the prober", h.probers.made)
	ups := h.eventsOf(systemd.LinkUp)
	if len(ups) != 1 || ups[0].Fields["PEER"] != cellPeer.String() || ups[0].Fields["LOCAL"] != cellLocal.String() {
		t.Fatalf("link-up events %+v, want one with local %s and peer %s", ups, cellLocal, cellPeer)
	}
	want := []string{
		"firewall gate", "dial line " + h.tty("ttyUSB2"), "pppd start ppp0 " + h.tty("ttyUSB2"), "pppd release 1",
		"route apply ppp0 " + cellLocal.String(), "route apply ppp0 " + cellLocal.String(),
	}
	// The policy's apply runs beside the dial, after the gate: where it
	// falls among the dial's calls is not fixed.
	all := h.rec.all()
	if slices.Index(all, "firewall apply") < slices.Index(all, "firewall gate") {
		t.Errorf("the policy is not applied after the gate%s", joined(all))
	}
	if got := slices.DeleteFunc(all, func(c string) bool { return c == "firewall apply" }); !slices.Equal(got, want) {
		t.Errorf("calls%s\nwant%s", joined(got), joined(want))
	}
	if got := h.d.Status(); !strings.HasPrefix(got.State, string(PhaseOnline)) || got.Ladder.Step != health.LadderIdle {
		t.Errorf("status %q, ladder %q: want online and idle", got.State, got.Ladder.Step)
	}
	// The status shows the counters of this link, never those of an older one.
	h.traffic.set("ppp0", linkstats.Counters{Index: 6, RxBytes: 99, TxBytes: 99})
	time.Sleep(1500 * time.Millisecond)
	if got := h.d.Status().Link; got.BytesIn != 0 || got.BytesOut != 0 {
		t.Errorf("status shows %d/%d bytes of another link", got.BytesIn, got.BytesOut)
	}
	h.traffic.set("ppp0", linkstats.Counters{Index: 7, RxBytes: 5000, TxBytes: 1200})
	eventually(t, "the link's bytes in the status", func() bool {
		got := h.d.Status().Link
		return got.BytesIn == 5000 && got.BytesOut == 1200
	})
	h.stop()
}

// TestScenarioPPPDKilledRedials: pppd dies; the route is withdrawn, the
// ladder redials at once on the same tty, and the link comes back.
func TestScenarioPPPDKilledRedials(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	p, w := h.session()
	h.up(w)
	p.exit(&pppd.ExitError{Code: pppd.ExitFatal})
	p2, w2 := h.session()
	if got := h.steps(); !slices.Equal(got, []string{"redial 1 (ppp)"}) {
		t.Fatalf("steps %q, want one redial", got)
	}
	h.up(w2)
	got := h.rec.all()
	i := slices.Index(got, "pppd exit 1")
	want := []string{"pppd exit 1", "route withdraw", "conntrack flush " + cellLocal.String(),
		"dial line " + h.tty("ttyUSB2"), "pppd start ppp0 " + h.tty("ttyUSB2")}
	if i < 0 || !slices.Equal(got[i:i+len(want)], want) {
		t.Fatalf("calls%s\nwant a run of%s", joined(got), joined(want))
	}
	if p2.Pid() == p.Pid() {
		t.Error("the same pppd twice")
	}
	h.stop()
}

// persistentSteps is the ladder of the harness's recovery budgets, climbed
// by a fault that never clears: two redials, a modem reset, a power cycle,
// the rest, and again from a redial.
var persistentSteps = []string{
	"redial 1 (path)", "redial 2 (path)", "modem-reset 1 (path)", "power-cycle 1 (path)", "wait 1 (path)", "redial 1 (path)",
}

// TestScenarioPathDownClimbs: the link comes up every time but passes no
// traffic (issue 11: this redialled as "redial attempt 1" forever).
func TestScenarioPathDownClimbs(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	for range len(persistentSteps) {
		p, w := h.session()
		h.up(w).verdict(false)
		receive(t, "pppd to end", p.Done())
	}
	if got := h.waitSteps(len(persistentSteps)); !slices.Equal(got, persistentSteps) {
		t.Fatalf("steps %q, want %q", got, persistentSteps)
	}
	if !strings.Contains(h.modem.Transcript(), "AT+CFUN=4") {
		t.Error("the modem reset did not reach the modem")
	}
	if !h.has("usb cycle 1-1 port 2") {
		t.Errorf("no power cycle of the modem's port%s", joined(h.rec.all()))
	}
	h.stop()
}

// TestScenarioFlappingLinkClimbs: the path passes its probes, but the link
// drops before healthy_after every time: that is no proof, and the ladder
// climbs as for a path that never worked.
func TestScenarioFlappingLinkClimbs(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	want := []string{"redial 1 (ppp)", "redial 2 (ppp)", "modem-reset 1 (ppp)", "power-cycle 1 (ppp)"}
	for i := range want {
		p, w := h.session()
		h.up(w).verdict(true)
		eventually(t, "healthy_after to run", func() bool { return h.clock.armed(2*time.Minute) == i+1 })
		p.exit(peerLost)
		h.waitSteps(i + 1)
	}
	if got := h.waitSteps(len(want)); !slices.Equal(got, want) {
		t.Fatalf("steps %q, want %q", got, want)
	}
	h.stop()
}

// TestScenarioLadderResetsOnlyAfterHealthyAfter: a path that passes its
// probes resets the ladder once healthy_after has passed, and not before.
func TestScenarioLadderResetsOnlyAfterHealthyAfter(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	p, w := h.session()
	h.up(w).verdict(false) // the first failure: redial 1
	receive(t, "pppd to end", p.Done())

	p, w = h.session()
	h.up(w).verdict(true)
	eventually(t, "healthy_after to run", func() bool { return h.clock.armed(2*time.Minute) == 1 })
	if got := h.d.Status().Ladder; got.Step != StepRedial.String() || got.Attempt != 1 {
		t.Fatalf("ladder %+v before healthy_after, want still at redial attempt 1", got)
	}
	h.clock.fire(2 * time.Minute)
	eventually(t, "the ladder to reset", func() bool { return h.d.Status().Ladder.Step == health.LadderIdle })
	p.exit(peerLost)
	h.session()
	if got, want := h.steps(), []string{"redial 1 (path)", "redial 1 (ppp)"}; !slices.Equal(got, want) {
		t.Fatalf("steps %q, want %q: the ladder starts over after the proof", got, want)
	}
	h.stop()
}

// TestScenarioModemReturnsUnderAnotherTTY: the modem drops off the bus with
// the link; the ladder power-cycles it, and it comes back as ttyUSB5 (the
// captured re-enumeration tree), where the next session dials.
func TestScenarioModemReturnsUnderAnotherTTY(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.usb.replug = func() {
		h.plugTree("mf180-reenum")
		h.serial.plug(h.tty("ttyUSB5"))
	}
	h.start()
	p, w := h.session()
	h.up(w)
	h.serial.plug("") // off the bus: the port no longer opens
	h.modem.PowerOff()
	p.exit(peerLost)
	_, w = h.session()
	h.up(w)
	got := h.rec.all()
	i := slices.Index(got, "usb cycle 1-1 port 2")
	if i < 0 || !slices.Contains(got[i:], "pppd start ppp0 "+h.tty("ttyUSB5")) {
		t.Fatalf("calls%s\nwant a power cycle of hub 1-1 port 2, then pppd on ttyUSB5", joined(got))
	}
	steps := h.steps()
	if len(steps) < 2 || steps[len(steps)-1] != "power-cycle 1 (gone)" {
		t.Fatalf("steps %q, want a power cycle for the modem that is gone", steps)
	}
	h.stop()
}

// TestScenarioATRacesTheDial: `failberry at` arrives while the session
// dials. It waits for the modem, then is refused: the line carries PPP.
func TestScenarioATRacesTheDial(t *testing.T) {
	h := newHarness(t, sim.Config{ConnectDelay: 300 * time.Millisecond}, nil)
	h.start()
	eventually(t, "the dial", func() bool { return strings.HasPrefix(h.d.Status().State, string(PhaseDialing)) })
	_, err := h.d.RunAT(context.Background(), "AT+CCLK?")
	if !errors.Is(err, ErrModemBusy) {
		t.Fatalf("AT during the dial = %v, want ErrModemBusy", err)
	}
	_, w := h.session()
	h.up(w)
	if strings.Contains(h.modem.Transcript(), "AT+CCLK?") {
		t.Error("the command reached the modem")
	}
	h.stop()
}

// TestScenarioStopInEachPhase stops the daemon in each phase of a session;
// stop checks that nothing is left: no pppd, no route, no rules.
func TestScenarioStopInEachPhase(t *testing.T) {
	hour := time.Hour
	for _, tc := range []struct {
		name   string
		sim    sim.Config
		plug   bool
		reach  func(h *harness)
		routed bool // pppd ran, so the route is withdrawn (Withdraw is safe without one)
	}{
		{name: "searching", reach: func(h *harness) {
			h.serial.plug("")
			eventually(t, "the search", func() bool { return strings.HasPrefix(h.d.Status().State, string(PhaseSearching)) })
		}},
		{name: "bringing up", sim: sim.Config{RegistrationDelay: hour}, reach: func(h *harness) {
			eventually(t, "the bring-up", func() bool { return strings.HasPrefix(h.d.Status().State, string(PhaseBringingUp)) })
		}},
		{name: "dialing", sim: sim.Config{ConnectDelay: hour}, reach: func(h *harness) {
			eventually(t, "the dial", func() bool { return strings.HasPrefix(h.d.Status().State, string(PhaseDialing)) })
		}},
		{name: "negotiating PPP", routed: true, reach: func(h *harness) { h.session() }},
		{name: "online", routed: true, reach: func(h *harness) {
			_, w := h.session()
			h.up(w)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.sim, nil)
			if tc.name == "searching" {
				h.serial.plug("")
			}
			h.start()
			tc.reach(h)
			h.stop()
			if got := h.has("route withdraw"); got != tc.routed {
				t.Errorf("route withdrawn: %v, want %v%s", got, tc.routed, joined(h.rec.all()))
			}
		})
	}
}

// TestScenarioLinkWatchFails: a link watch that fails ends the session
// (issue 11: it was logged and the session went on blind), as a PPP failure
// the ladder redials.
func TestScenarioLinkWatchFails(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	p, w := h.session()
	w.fail <- errors.New("netlink: no buffer space available")
	receive(t, "pppd to be stopped", p.Done())
	if got := h.waitSteps(1); !slices.Equal(got, []string{"redial 1 (ppp)"}) {
		t.Fatalf("steps %q, want a redial for a PPP failure", got)
	}
	h.session()
	h.stop()
}

// TestScenarioReplyRouting: the wired uplink's replies are routed from the
// start; the cellular link's while it is up; all of it is removed at stop.
func TestScenarioReplyRouting(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	wired := "eth0 0x1000000 via " + wiredGateway.String()
	h.start()
	p, w := h.session()
	if got := h.routes.replyLinks(); !slices.Equal(got, []string{wired}) {
		t.Fatalf("reply routing before the link is up: %q", got)
	}
	h.up(w)
	if got, want := h.routes.replyLinks(), []string{wired, "ppp0 0x2000000 direct"}; !slices.Equal(got, want) {
		t.Fatalf("reply routing with the link up: %q, want %q", got, want)
	}
	p.exit(peerLost)
	h.session()
	if got := h.routes.replyLinks(); !slices.Equal(got, []string{wired}) {
		t.Fatalf("reply routing after the link went down: %q, want the wired uplink only", got)
	}
	h.stop() // checks that it is removed
}

// TestScenarioLinkLostEndsTheSessionAtOnce: pppd's LCP echo gave up on the
// peer and the link lost its address. The session ends there, as a PPP
// failure, and pppd is stopped without waiting for a Terminate-Ack that
// cannot come (the hang-to-power-off time of issue 11).
func TestScenarioLinkLostEndsTheSessionAtOnce(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	p, w := h.session()
	h.up(w)
	w.fn(route.Link{Name: "ppp0", Index: 7, Up: false})
	receive(t, "pppd to be stopped", p.Done())
	h.session()
	if got := h.steps(); !slices.Equal(got, []string{"redial 1 (ppp)"}) {
		t.Errorf("steps %q, want one redial for a PPP failure", got)
	}
	if want := fmt.Sprintf("pppd stop %d grace %v", p.Pid(), deadPathStopGrace); !h.has(want) {
		t.Errorf("no %q in%s", want, joined(h.rec.all()))
	}
	h.stop()
}

// TestScenarioHeldPPPDAwaitsGate: pppd starts (held) before ATD, so that it
// loads while the network answers, and is released onto the line only once
// the closed gate is in place.
func TestScenarioHeldPPPDAwaitsGate(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.gateHeld.Lock()
	h.start()
	p := receive(t, "pppd to start", h.pppd.started)
	eventually(t, "the dial's CONNECT", func() bool { return h.modem.Snapshot().CallUp })
	time.Sleep(300 * time.Millisecond)
	if h.has(fmt.Sprintf("pppd release %d", p.Pid())) {
		t.Fatalf("pppd released before the gate%s", joined(h.rec.all()))
	}
	h.gateHeld.Unlock()
	eventually(t, "pppd's release", func() bool { return h.has(fmt.Sprintf("pppd release %d", p.Pid())) })
	all := h.rec.all()
	if i, j := slices.Index(all, "firewall gate"), slices.Index(all, fmt.Sprintf("pppd release %d", p.Pid())); i < 0 || j < i {
		t.Fatalf("pppd released before the gate%s", joined(all))
	}
	receive(t, "the link watch", h.links.watches)
	h.stop()
}

// TestScenarioFailedDialStopsHeldPPPD: ATD answers NO CARRIER; the pppd
// held for that call is stopped, never released onto the line.
func TestScenarioFailedDialStopsHeldPPPD(t *testing.T) {
	h := newHarness(t, sim.Config{}, func(c *config.Config) { c.Modem.DialString = "*99***3#" }) // no context 3
	h.start()
	p := receive(t, "pppd to start", h.pppd.started)
	stopped := fmt.Sprintf("pppd stop %d grace %v", p.Pid(), deadPathStopGrace)
	eventually(t, "the held pppd's stop", func() bool { return h.has(stopped) })
	if h.has(fmt.Sprintf("pppd release %d", p.Pid())) {
		t.Fatalf("the pppd of a failed dial was released%s", joined(h.rec.all()))
	}
	h.stop()
}

// TestScenarioGateThenPolicy: pppd is released once the closed gate is in place,
// while the policy is still being applied; the probes (which the gate would
// fail) start only once the policy is in place.
func TestScenarioGateThenPolicy(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.fwHeld.Lock()
	h.start()
	_, w := h.session()
	if h.has("firewall apply") {
		t.Fatal("the policy was applied while held")
	}
	if i, j := slices.Index(h.rec.all(), "firewall gate"), slices.Index(h.rec.all(), "pppd release 1"); i < 0 || j < i {
		t.Fatalf("pppd released before the gate%s", joined(h.rec.all()))
	}
	w.fn(route.Link{Name: "ppp0", Index: 7, Up: true, Local: cellLocal, Peer: cellPeer})
	select {
	case <-h.probers.made:
		t.Fatal("probes started over the gate, before the policy")
	case <-time.After(300 * time.Millisecond):
	}
	h.fwHeld.Unlock()
	receive(t, "the prober once the policy is in place", h.probers.made)
	if !h.has("firewall apply") {
		t.Error("no policy apply")
	}
}

// TestScenarioStartsOnACallLeftUp: a daemon killed while online leaves the
// modem in data mode, where it swallows AT. The next start finds the port
// all the same (the search escapes a silent port), hangs up and dials.
func TestScenarioStartsOnACallLeftUp(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.serial.carrierStays = true
	dte, modemSide := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.modem.Run(ctx, modemSide, nil) }()
	if _, err := dte.Write([]byte("ATD*99#\r")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64)
	for !strings.Contains(string(got), "CONNECT") {
		if err := dte.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := dte.Read(buf)
		if err != nil {
			t.Fatalf("dialling the modem by hand: %v (read %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	cancel() // the killed daemon: no +++, no ATH, no DTR drop
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	dte.Close()
	modemSide.Close()
	if !h.modem.Snapshot().Online {
		t.Fatal("the modem is not in data mode")
	}
	h.start()
	h.session()
	if n := h.modem.Snapshot().Calls; n != 2 {
		t.Errorf("%d calls, want the one left up and a new one", n)
	}
}
