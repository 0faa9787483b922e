package daemon

// The primary uplink's watch, in split and gateway mode (package failover
// decides; this file runs its probes and applies what it decides).
//
// Split mode (route.mode: split): the Pi's own traffic stays on the primary
// path while that path works, and only what the Pi forwards for the LAN
// takes the metered cellular link. Gateway mode (route.mode: gateway): the
// LAN's traffic too stays on the primary while it works; while it fails,
// the listed hosts (firewall.allow_sources) and the Pi leave over cellular,
// and the others are refused by the firewall. The routing half is
// route.Steer. The probes are bound to the wired interface
// (SO_BINDTODEVICE), so they test the primary whatever the steering, and
// never leave over cellular.

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/atomicfile"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/failover"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/systemd"
)

// steerFor is the steering of the steered modes under config c, with the
// failover traffic on cellular when viaCellular is set; the zero Steer in
// the other modes.
func steerFor(c config.Config, kind string, viaCellular bool) route.Steer {
	cell := cellularIface(c, kind)
	switch route.Mode(c.Route.Mode) {
	case route.ModeSplit:
		return route.Steer{Forward: c.Firewall.LAN, Cellular: cell, Own: viaCellular}
	case route.ModeGateway:
		if !viaCellular {
			return route.Steer{Cellular: cell}
		}
		return route.Steer{Forward: c.Firewall.LAN, Cellular: cell, Own: true}
	}
	return route.Steer{}
}

// gatewayPolicy adds gateway mode's part to the firewall policy: the mark
// of connections that go out over cellular (failback removes exactly
// those), and no redirects out of a LAN interface the primary router is on.
func gatewayPolicy(p *firewall.Policy, c config.Config, wan string) {
	p.OutMarks = []firewall.InterfaceMark{{Interface: wan, Mark: route.MarkOutCellular}}
	for _, l := range c.Firewall.LAN {
		if l == c.Route.WiredInterface {
			p.NoRedirects = append(p.NoRedirects, l)
		}
	}
}

// CheckRoute is the config's check of split and gateway mode (a
// config.Check): they need the primary's interface to watch, LAN
// interfaces a policy rule can name, and primary probes that can run.
func CheckRoute(c config.Config) error {
	mode := route.Mode(c.Route.Mode)
	if !mode.Steered() {
		return nil
	}
	wired := c.Route.WiredInterface
	if wired == "" {
		return &config.KeyError{Key: "route.wired_interface", Msg: fmt.Sprintf("%s mode watches the primary path through this interface: "+
			"set it (such as eth0), or use mode: replace", mode)}
	}
	if err := steerFor(c, modem.KindPPP, true).Validate(); err != nil {
		return &config.KeyError{Key: "firewall.lan_interfaces", Msg: fmt.Sprintf("%v (%s mode routes forwarded traffic by "+
			"incoming interface: list each LAN interface by its name, or use route.mode: replace)", err, mode)}
	}
	if err := primaryProberConfig(c).Validate(); err != nil {
		return &config.KeyError{Key: "primary", Msg: fmt.Sprintf("%v: the primary watch cannot run; use a quorum of at most the "+
			"number of targets (0 means a majority) and a timeout no longer than failing_interval", err)}
	}
	if mode != route.ModeGateway {
		return nil
	}
	if !c.Firewall.Enabled {
		return &config.KeyError{Key: "firewall.enabled", Msg: "gateway mode keeps the hosts not in firewall.allow_sources off " +
			"the cellular link with the firewall: turn it on"}
	}
	if !slices.Contains(c.Firewall.LAN, wired) && !slices.Contains(c.Firewall.MasqueradeOut, wired) {
		return &config.KeyError{Key: "firewall.masquerade_out", Msg: fmt.Sprintf("gateway mode forwards the LAN's traffic out of "+
			"the primary %s, which is not a LAN interface: add it here (the ISP's side knows no route to your LAN)", wired)}
	}
	return nil
}

// primaryProberConfig is the primary watch's probes: the primary section,
// bound to the wired interface, with health.probes' targets when it names
// none, and the loss and latency limits of health.probes (one rule of when
// a target counts as answering). One good round makes the probes pass: the
// decider's hold is the hysteresis on the way back.
func primaryProberConfig(c config.Config) health.ProberConfig {
	p, h := c.Primary, c.Health.Probes
	targets := p.Targets
	if len(targets) == 0 {
		targets = h.Targets
	}
	quorum := p.Quorum
	if quorum == 0 {
		quorum = len(targets)/2 + 1
	}
	return health.ProberConfig{
		Interface: c.Route.WiredInterface, Targets: targets, Quorum: quorum,
		Interval: time.Duration(p.Interval), FailingInterval: time.Duration(p.FailingInterval),
		SuspectAfter: time.Duration(h.SuspectAfter), Timeout: time.Duration(p.Timeout),
		DownAfter: p.DownAfter, UpAfter: 1, MaxLoss: h.MaxLoss, MaxLatency: time.Duration(h.MaxLatency),
	}
}

// drillReq asks the watch to drill until until (zero: stop the drill).
type drillReq struct {
	until time.Time
	done  chan error
}

func (d *Daemon) drillFile() failover.DrillFile {
	return failover.DrillFile{Path: filepath.Join(d.cfg.StateDir, "drill.json"), Write: atomicfile.Write}
}

// watchPrimary runs the primary's probes in split and gateway mode until
// ctx ends, feeds their verdicts and the drill to the decider, and applies
// its changes. A drill stored by a daemon that died in the middle of it is
// carried on to its end.
func (d *Daemon) watchPrimary(ctx context.Context) {
	if !route.Mode(d.cfg.Route.Mode).Steered() {
		return
	}
	p := d.opts.NewProber(primaryProberConfig(d.cfg), d.log.With("component", "primary-probe"))
	dec := failover.NewDecider(time.Duration(d.cfg.Primary.Hold), d.opts.Now())
	// The stored drill first: the status must never show the primary
	// active while a drill is on (`failberry drill` would take that for
	// the failback).
	var resumed failover.Change
	var resume bool
	if until, err := d.drillFile().Load(d.opts.Now()); err != nil {
		d.log.Warn("drill", "err", err)
	} else if !until.IsZero() {
		d.log.Info("carrying on the drill a previous run started", "until", until)
		resumed, resume = dec.Drill(d.opts.Now(), until)
	}
	d.st.mu.Lock()
	d.wiredProber = p
	d.failover = dec.State()
	d.st.mu.Unlock()
	d.decided(dec, resumed, resume)
	go func() {
		if err := p.Run(ctx); err != nil {
			d.log.Error("primary probes stopped", "err", err)
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Stop()
		var wake <-chan time.Time
		if next := dec.Next(); !next.IsZero() {
			timer.Reset(max(next.Sub(d.opts.Now()), 0))
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case up := <-p.Changes():
			c, ok := dec.Probes(d.opts.Now(), up)
			d.decided(dec, c, ok)
		case r := <-d.drills:
			r.done <- d.drill(dec, r.until)
		case <-wake:
			c, ok := dec.Tick(d.opts.Now())
			d.decided(dec, c, ok)
		}
	}
}

// drill starts (or, with a zero until, stops) a drill (gateway mode only:
// handleDrill refuses it in split mode, whose status has no uplink to
// narrate): stored first, so a restart carries it on, then decided.
func (d *Daemon) drill(dec *failover.Decider, until time.Time) error {
	f := d.drillFile()
	var err error
	if until.IsZero() {
		err = f.Clear()
	} else {
		err = f.Save(until)
	}
	if err != nil {
		return err
	}
	d.log.Info("drill", "until", until)
	c, ok := dec.Drill(d.opts.Now(), until)
	d.decided(dec, c, ok)
	return nil
}

// decided publishes the decider's state and applies a change: the steering
// (the main loop re-applies it), the event, and in gateway mode the
// conntrack flush that failback owes, done once the routes have moved.
func (d *Daemon) decided(dec *failover.Decider, c failover.Change, changed bool) {
	prev := d.failoverState()
	st := dec.State()
	d.st.mu.Lock()
	d.failover = st
	d.st.mu.Unlock()
	if st.DrillUntil.IsZero() && !prev.DrillUntil.IsZero() {
		_ = d.drillFile().Clear() // over: a restart must not resume it
	}
	if !changed {
		return
	}
	d.viaCellular.Store(c.To == failover.Cellular)
	d.emitFailover(c, prev, st)
	if c.To == failover.Primary && route.Mode(d.cfg.Route.Mode) == route.ModeGateway {
		d.forgetPending.Store(true)
	}
	select { // the main loop re-applies the steering at once
	case d.steerChanged <- struct{}{}:
	default:
	}
}

func (d *Daemon) emitFailover(c failover.Change, prev, st failover.State) {
	wired := d.cfg.Route.WiredInterface
	fields := map[string]string{"INTERFACE": wired, "DRILL": b01(c.Drill)}
	if route.Mode(d.cfg.Route.Mode) == route.ModeSplit {
		via, msg := "wired", "the wired path passes its probes again: the Pi's own traffic leaves through it"
		if c.To == failover.Cellular {
			via, msg = "cellular", "the wired path fails its probes: the Pi's own traffic leaves over cellular"
		}
		fields["VIA"] = via
		d.events.Emit(systemd.OwnTraffic, msg, fields)
		return
	}
	if c.To == failover.Cellular {
		msg := "failover: the primary " + wired + " fails its probes; the listed hosts and the Pi leave over cellular"
		if c.Drill {
			msg = "failover (drill): the primary " + wired + " counts as down until " + st.DrillUntil.Format(time.TimeOnly)
			fields["UNTIL"] = st.DrillUntil.Format(time.RFC3339)
		}
		d.events.Emit(systemd.Failover, msg, fields)
		return
	}
	fields["DOWN_FOR"] = c.At.Sub(prev.Since).Round(time.Second).String()
	d.events.Emit(systemd.Failback, fmt.Sprintf("failback: the primary %s passed its probes for %s; traffic is back on it",
		wired, time.Duration(d.cfg.Primary.Hold)), fields)
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// forgetCellularConnections removes the connections that went out over
// cellular, once after each failback (and once at start, for what a crashed
// run left), after the steering that sends traffic back to the primary is
// in place: removed earlier, a connection's next packet would go out over
// cellular again and be marked anew. Only the main loop calls it.
func (d *Daemon) forgetCellularConnections() {
	if !d.forgetPending.Swap(false) {
		return
	}
	n, err := d.opts.ForgetMarked(route.MarkOutCellular, route.MarkMask)
	if err != nil {
		d.log.Warn("failback: removing the connections that went out over cellular", "err", err)
		return
	}
	d.log.Info("failback: removed the connections that went out over cellular", "connections", n)
}

func (d *Daemon) failoverState() failover.State {
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	return d.failover
}

// trafficVia says where the failover traffic leaves now, for the status.
func (d *Daemon) trafficVia() string {
	switch {
	case !route.Mode(d.cfg.Route.Mode).Steered():
		return "" // it follows the default route, which the status shows
	case d.viaCellular.Load():
		return "cellular"
	}
	return "wired"
}

// handleDrill is POST /drill?for=2m (start, or move the end of, a drill)
// and DELETE /drill (stop it). The watch stores the drill before it acts,
// so a daemon that restarts carries it on.
func (d *Daemon) handleDrill(w http.ResponseWriter, r *http.Request) {
	if route.Mode(d.cfg.Route.Mode) != route.ModeGateway {
		http.Error(w, "a drill needs route.mode: gateway; in "+d.cfg.Route.Mode+" mode the Pi decides no failover of its own", http.StatusConflict)
		return
	}
	var until time.Time
	if r.Method == http.MethodPost {
		dur, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil || dur < time.Second || dur > 24*time.Hour {
			http.Error(w, "for= must be a duration from 1s to 24h, such as 2m", http.StatusBadRequest)
			return
		}
		until = d.opts.Now().Add(dur)
	}
	done := make(chan error, 1)
	select {
	case d.drills <- drillReq{until: until, done: done}:
	case <-r.Context().Done():
		return
	}
	if err := <-done; err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if until.IsZero() {
		fmt.Fprintln(w, "drill stopped")
		return
	}
	fmt.Fprintln(w, "drill until", until.Format(time.RFC3339))
}

// uplinkStatus is gateway mode's decision for the status; nil in the other
// modes, and before the watch has started.
func uplinkStatus(c config.Config, st failover.State) *health.UplinkStatus {
	if route.Mode(c.Route.Mode) != route.ModeGateway || st.Active == "" {
		return nil
	}
	u := &health.UplinkStatus{Active: string(st.Active), Since: st.Since}
	if !st.BackAt.IsZero() {
		u.BackAt = &st.BackAt
	}
	if !st.DrillUntil.IsZero() {
		u.DrillUntil = &st.DrillUntil
	}
	return u
}
