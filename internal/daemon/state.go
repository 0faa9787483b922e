package daemon

import (
	"fmt"
	"maps"
	"net/netip"
	"sync"
	"time"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/linkstats"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/usbpower"
)

// Phase is what the main loop is doing, as `failberry status` shows it.
type Phase string

const (
	PhaseStarting   Phase = "starting"
	PhaseSearching  Phase = "searching for modem"
	PhaseBringingUp Phase = "bringing up modem"
	PhaseDialing    Phase = "dialing"
	PhaseConnecting Phase = "negotiating PPP"
	PhaseOnline     Phase = "online"
	PhaseRecovering Phase = "recovering"
	PhaseSIM        Phase = "SIM problem"
)

// state is what the main loop publishes for the status endpoint, STATUS= and
// the public /cellular answer. Readers copy it under mu.
type state struct {
	mu     sync.Mutex
	phase  Phase
	since  time.Time
	detail string
	tty    string
	usbLoc usbpower.Location // the modem's hub port, kept for when its tty is gone
	// netDev is the USB device a network-card stick was last found on
	// ("1-1.2"), and lastLease the address it last leased: asked for again.
	netDev    string
	lastLease netip.Addr
	info      modem.Info
	link      route.Link
	linkSince time.Time
	step      Step
	attempt   int               // 0: no recovery attempt runs (idle), and step means nothing
	steps     map[string]uint64 // every step of the ladder, taken or not
	traffic   linkstats.Sample  // the cellular link's latest counters
	fwApplied bool
	fwErr     string
	reset     time.Time // when the modem was last reset or powered up
	// unreachable is the last cellular address the carrier-NAT warning was
	// written for.
	unreachable netip.Addr
}

// noteUnreachable records that the cellular link got addr, which the
// internet cannot reach; true the first time for this address, so the
// warning is written once per address, not once per redial.
func (s *state) noteUnreachable(addr netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unreachable == addr {
		return false
	}
	s.unreachable = addr
	return true
}

func newState() *state {
	s := &state{phase: PhaseStarting, since: time.Now(), steps: map[string]uint64{}}
	for st := StepRedial; st <= StepWait; st++ {
		s.steps[st.String()] = 0 // so each step's metrics exist before its first use
	}
	return s
}

// set changes the phase and returns the one-line STATUS= text when it changed.
func (s *state) set(p Phase, detail string) (line string, changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == p && s.detail == detail {
		return "", false
	}
	if s.phase != p {
		s.since = time.Now()
	}
	s.phase, s.detail = p, detail
	line = string(p)
	if detail != "" {
		line += ": " + detail
	}
	return line, true
}

func (s *state) setFirewall(applied bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fwApplied, s.fwErr = applied, ""
	if err != nil {
		s.fwErr = err.Error()
	}
}

func (s *state) setInfo(i modem.Info) { s.mu.Lock(); s.info = i; s.mu.Unlock() }
func (s *state) setTTY(t string)      { s.mu.Lock(); s.tty = t; s.mu.Unlock() }
func (s *state) netDevice() string    { s.mu.Lock(); defer s.mu.Unlock(); return s.netDev }

// escapeGuard is the "+++" guard time the last bring-up set on the modem.
func (s *state) escapeGuard() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info.EscapeGuard
}

func (s *state) setLink(l route.Link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.Ready() && !s.link.Ready() {
		s.linkSince = time.Now()
	}
	s.link = l
}

// setLadder records the recovery attempt being made; attempt 0 means none
// runs (the link came up), which status and the metrics show as idle.
func (s *state) setLadder(st Step, attempt int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step, s.attempt = st, attempt
	if attempt > 0 {
		s.steps[st.String()]++
	}
}

func (s *state) markReset()          { s.mu.Lock(); s.reset = time.Now(); s.mu.Unlock() }
func (s *state) resetAt() time.Time  { s.mu.Lock(); defer s.mu.Unlock(); return s.reset }
func (s *state) currentTTY() string  { s.mu.Lock(); defer s.mu.Unlock(); return s.tty }
func (s *state) currentPhase() Phase { s.mu.Lock(); defer s.mu.Unlock(); return s.phase }

// setPhase publishes a phase change to the state and to systemd's STATUS=.
func (d *Daemon) setPhase(p Phase, detail string) {
	if line, changed := d.st.set(p, detail); changed {
		d.notify.Status(line)
	}
}

// Status is the daemon's state for the status endpoint and `failberry status`.
// Interface counters are read here, on request, never on a poll.
func (d *Daemon) Status() health.Status {
	s := d.st
	s.mu.Lock()
	out := health.Status{
		State: string(s.phase), Since: s.since,
		Modem: health.ModemStatus{
			Manufacturer: s.info.Manufacturer, Model: s.info.Model, Operator: s.info.Operator,
			Registration: s.info.Reg.String(), SIM: s.info.SIM.String(),
		},
		Link:     health.LinkStatus{Interface: d.cellIface(), Up: s.link.Ready()},
		Ladder:   health.LadderStatus{Step: health.LadderIdle, StepsTotal: maps.Clone(s.steps)},
		Firewall: health.FirewallStatus{Applied: s.fwApplied, LastError: s.fwErr},
		Data:     d.dataStatus(),
	}
	if s.attempt > 0 {
		out.Ladder.Step, out.Ladder.Attempt = s.step.String(), s.attempt
	}
	if s.detail != "" {
		out.State += ": " + s.detail
	}
	if s.info.AcT != 0 || s.info.Operator != "" {
		out.Modem.AccessTech = s.info.AcT.String()
	}
	if s.info.SignalKnown {
		dbm := s.info.SignalDBM
		out.Modem.SignalDBM = &dbm
	}
	if s.link.Ready() {
		out.Link.Local, out.Link.Peer = s.link.Local.String(), s.link.Peer.String()
		out.Link.Uptime = time.Since(s.linkSince).Round(time.Second).String()
	}
	prober, wired, link, traffic, fo := d.prober, d.wiredProber, s.link, s.traffic, d.failover
	s.mu.Unlock()
	out.Route = health.RouteStatus{Mode: d.cfg.Route.Mode, OwnTraffic: d.trafficVia(), Uplink: uplinkStatus(d.cfg, fo)}
	if wired != nil {
		w := wired.Snapshot()
		out.Route.Wired = &w
	}
	out.Inbound = d.inboundStatus(link)
	if out.Link.Up && traffic.Index == link.Index {
		out.Link.BytesIn, out.Link.BytesOut = traffic.RxBytes, traffic.TxBytes
	}
	if prober != nil {
		out.Probes = prober.Snapshot()
	}
	for _, e := range d.events.Recent(10) {
		out.Events = append(out.Events, health.Event{Time: e.Time, Kind: e.Kind, Message: e.Message})
	}
	return out
}

// statusLine is the short state for logs: "online via ppp0 203.0.113.2".
func statusLine(l route.Link, i modem.Info) string {
	s := fmt.Sprintf("via %s %s", l.Name, l.Local)
	if i.Operator != "" {
		s += ", " + i.Operator
	}
	if i.SignalKnown {
		s += fmt.Sprintf(", %d dBm", i.SignalDBM)
	}
	return s
}
