package daemon

// The data meter's part of the daemon: it feeds the meter the cellular
// link's counters and the firewall's (the health port's share, the Pi's
// own), saves its state on a slow timer, at
// stop and before a reboot, turns its events into journal lines and applies
// its cap decision to the firewall. The counting and the decisions are the
// meter package's.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/atomicfile"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/linkstats"
	"github.com/failberry/failberry/internal/meter"
	"github.com/failberry/failberry/systemd"
)

// meterTick is how often the meter rolls days and periods without traffic,
// reads the firewall's counters (one iptables-save -c per family) and
// checks whether its state is due for a write.
const meterTick = time.Minute

// meterConfig is the meter's view of the config.
func meterConfig(c config.Config) meter.Config {
	return meter.Config{StartDay: c.Meter.PeriodStartDay, Cap: int64(c.Meter.Cap), WarnAt: c.Meter.WarnAt,
		Action: meter.Action(c.Meter.CapAction), Location: time.Local}
}

// CheckMeter is the config's check of the cap (a config.Check): an action
// the firewall must apply needs the firewall, and an allowlist needs hosts.
func CheckMeter(c config.Config) error {
	a := meter.Action(c.Meter.CapAction)
	switch {
	case c.Meter.Cap == 0 || a == meter.ActionWarn:
		return nil
	case !c.Firewall.Enabled:
		return &config.KeyError{Key: "meter.cap_action", Msg: fmt.Sprintf("%s needs the firewall (firewall.enabled: true); use warn, or turn the firewall on", a)}
	case a == meter.ActionAllowlist && len(c.Meter.CapAllow) == 0:
		return &config.KeyError{Key: "meter.cap_allow", Msg: "is empty, so the allowlist would block every LAN host; list the hosts that keep cellular, such as [\"192.168.1.20\"], or use cap_action: block"}
	}
	return nil
}

// capAction is the firewall's side of the meter's decision: no cap chain
// without a cap or with an action that only warns.
func capAction(c config.Config, enforced meter.Action) firewall.CapAction {
	switch {
	case c.Meter.Cap == 0 || meter.Action(c.Meter.CapAction) == meter.ActionWarn:
		return firewall.CapOff
	case enforced == meter.ActionAllowlist:
		return firewall.CapAllowlist
	case enforced == meter.ActionBlock:
		return firewall.CapBlock
	}
	return firewall.CapOpen
}

// openMeter continues the count in the state dir.
func openMeter(c config.Config, now time.Time) (*meter.Meter, error) {
	return meter.Open(filepath.Join(c.StateDir, "meter.json"), meterConfig(c), now, atomicfile.Write)
}

// rulesFor builds the firewall rules with the cap's current decision.
func (d *Daemon) rulesFor(enforced meter.Action) (firewall.Ruleset, error) {
	p := firewallPolicy(d.cfg, cellularWAN(d.cfg, d.cellKind()))
	p.Cap = capAction(d.cfg, enforced)
	return firewall.Build(p)
}

// currentRules are the rules to keep now.
func (d *Daemon) currentRules() firewall.Ruleset {
	rs, err := d.rulesFor(d.meter.Enforced())
	if err != nil { // New built the same policy: only the cap differs
		d.log.Error("firewall rules for the cap", "err", err)
		return d.rules
	}
	return rs
}

// countTraffic is the traffic sampler's sink: the bytes since the last
// sample (linkstats.Counters.Since: a re-created link counts from zero).
// The first sample after a start counts everything the link carried, as
// the link is this run's (a stale pppd is stopped at start).
func (d *Daemon) countTraffic(s linkstats.Sample) {
	delta := s.Counters.Since(d.meterPrev)
	d.meterPrev = s.Counters
	d.meterEvents(d.meter.Add(d.now(), delta.RxBytes, delta.TxBytes))
}

// runMeter rolls days and periods, reads the firewall's counters and
// saves the state when due, until ctx ends; Run flushes it after.
func (d *Daemon) runMeter(ctx context.Context) {
	t := time.NewTicker(meterTick)
	defer t.Stop()
	var prev firewall.MeterCounters
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.meterKick:
		case <-t.C:
			d.meterEvents(d.meter.Tick(d.now()))
			prev = d.countShares(ctx, prev)
		}
		if err := d.meter.Save(d.now()); err != nil {
			d.log.Error("saving the data meter", "err", err)
		}
	}
}

// countShares adds the health port's and the Pi's own bytes since prev
// (firewall.MeterCounters.BytesSince: a rule rewritten counts anew).
func (d *Daemon) countShares(ctx context.Context, prev firewall.MeterCounters) firewall.MeterCounters {
	mc, ok := d.fw.(MeterCounter)
	if !ok || d.firewallReady(ctx) != nil {
		return prev
	}
	c, err := mc.MeterCounters(ctx)
	if err != nil {
		d.log.Debug("firewall counters", "err", err)
		return prev
	}
	sh := meter.Shares{HealthIn: c.BytesSince(prev, firewall.CounterHealth),
		Own: c.BytesSince(prev, firewall.CounterOwnIn) + c.BytesSince(prev, firewall.CounterOwnOut)}
	d.meterEvents(d.meter.AddShares(d.now(), sh))
	return c
}

// flushMeter writes what the meter counted; at stop and before a reboot.
func (d *Daemon) flushMeter() {
	if err := d.meter.Flush(d.now()); err != nil {
		d.log.Error("saving the data meter", "err", err)
	}
}

// meterEvents journals the meter's events, has its state saved at once and
// the firewall follow a change of the cap's decision. It never blocks: the
// sampler calls it.
func (d *Daemon) meterEvents(evs []meter.Event) {
	if len(evs) == 0 {
		return
	}
	capChanged := false
	for _, e := range evs {
		switch e.Kind {
		case meter.EventDay:
			s := d.meter.Snapshot()
			d.events.Emit(systemd.DataDaily, fmt.Sprintf("cellular data on %s: in %d B, out %d B (the Pi's own %d B, health port in %d B)", e.Day.Date, e.Day.In, e.Day.Out, e.Day.Own, e.Day.HealthIn),
				map[string]string{"DATE": e.Day.Date, "BYTES_IN": u(e.Day.In), "BYTES_OUT": u(e.Day.Out), "HEALTH_IN": u(e.Day.HealthIn), "OWN_BYTES": u(e.Day.Own),
					"PERIOD_START": s.PeriodStart.Format(time.DateOnly), "PERIOD_BYTES": u(s.In + s.Out)})
		case meter.EventWarn:
			d.events.Emit(systemd.DataWarning, fmt.Sprintf("cellular data: %d of the cap's %d bytes used (warning at %g)", e.Used, e.Cap, e.Fraction),
				map[string]string{"USED": u(e.Used), "CAP": strconv.FormatInt(e.Cap, 10), "FRACTION": strconv.FormatFloat(e.Fraction, 'g', -1, 64)})
		case meter.EventCapReached:
			capChanged = true
			d.events.Emit(systemd.DataCapReached, fmt.Sprintf("cellular data cap reached: %d of %d bytes; action %s", e.Used, e.Cap, d.cfg.Meter.CapAction),
				map[string]string{"USED": u(e.Used), "CAP": strconv.FormatInt(e.Cap, 10), "ACTION": d.cfg.Meter.CapAction})
		case meter.EventCapLifted:
			capChanged = true
			d.events.Emit(systemd.DataCapLifted, "cellular data cap lifted: "+e.Reason, map[string]string{"REASON": e.Reason})
		}
	}
	poke(d.meterKick)
	if capChanged {
		poke(d.capChanged)
	}
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }

// poke wakes the reader of a channel of one, without waiting.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// dataStatus is the meter's part of the status; nil without a meter (a
// Daemon not made by New).
func (d *Daemon) dataStatus() *health.DataStatus {
	if d.meter == nil {
		return nil
	}
	s := d.meter.Snapshot()
	out := &health.DataStatus{PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd, BytesIn: s.In, BytesOut: s.Out, BytesOwn: s.Own,
		Cap: s.Cap, WarnAt: d.cfg.Meter.WarnAt, Warned: s.Warned, CapReached: s.Capped, Enforced: string(s.Action)}
	today := d.now().In(time.Local).Format(time.DateOnly)
	for _, day := range s.Days {
		dd := health.DataDay{Date: day.Date, BytesIn: day.In, BytesOut: day.Out, HealthIn: day.HealthIn, BytesOwn: day.Own}
		out.Days = append(out.Days, dd)
		if day.Date == today {
			out.Today = dd
		}
	}
	return out
}

// handleDataReset serves POST /data/reset for `failberry data reset`: the
// period's count starts again and the cap's action is lifted at once.
func (d *Daemon) handleDataReset(w http.ResponseWriter, r *http.Request) {
	d.meterEvents(d.meter.Reset(d.now()))
	if err := d.meter.Flush(d.now()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "data meter reset: the period counts from zero, the cap's action is lifted")
}

// keepFirewall keeps the rules, rebuilt with the cap's decision whenever
// it changes: Keep is restarted with the new rules and converges at once.
func (d *Daemon) keepFirewall(ctx context.Context) {
	if d.firewallReady(ctx) != nil || d.fw == nil {
		return
	}
	every := time.Duration(d.cfg.Firewall.ReconcileInterval)
	// The first apply has just converged the rules, and pppd starts now:
	// the first check waits an interval rather than run iptables-save
	// beside PPP's negotiation (on the bench, under emulation, each run
	// takes a good part of a second of the only CPU). A cap change in
	// between is applied at once.
	select {
	case <-ctx.Done():
		return
	case <-d.capChanged:
	case <-time.After(every):
	}
	for {
		kctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		rules := d.currentRules()
		go func() { done <- d.fw.Keep(kctx, rules, every) }()
		select {
		case <-d.capChanged:
			stop()
			<-done
			continue
		case err := <-done:
			stop()
			if err != nil && !errors.Is(err, context.Canceled) {
				d.log.Error("firewall upkeep stopped", "err", err)
				d.st.setFirewall(false, err)
			}
			return
		}
	}
}
