package failover

import "time"

// Uplink names the link that carries the failover traffic.
type Uplink string

// The two uplinks.
const (
	Primary  Uplink = "primary"
	Cellular Uplink = "cellular"
)

// Change is a decision to move traffic to To.
type Change struct {
	To Uplink
	At time.Time
	// Drill says the primary only looks down: a drill is running (failover)
	// or has just ended (the hold that follows it, then failback).
	Drill bool
}

// State is the decision and what it stands on, for the status.
type State struct {
	Active Uplink
	Since  time.Time
	// ProbesUp is the primary probes' verdict (true until they have one:
	// at boot the wired line nearly always works, and a wrong guess the
	// other way costs money).
	ProbesUp bool
	// DrillUntil is the running drill's end; zero: none.
	DrillUntil time.Time
	// BackAt is when traffic moves back if the primary keeps passing; zero
	// while it fails or traffic is on it.
	BackAt time.Time
}

// Decider decides the active uplink from the primary's probe verdicts and
// the drill: down at once when the probes say so (they already waited for
// DownAfter failed rounds), back only after Hold without a failure. One
// goroutine owns it; it keeps no clock of its own, every call says when.
type Decider struct {
	hold    time.Duration
	st      State
	upSince time.Time // since when the primary counts as up; zero: down
	drilled bool      // the last failover was a drill's
}

// NewDecider starts on the primary at now.
func NewDecider(hold time.Duration, now time.Time) *Decider {
	return &Decider{hold: hold, st: State{Active: Primary, Since: now, ProbesUp: true}, upSince: now}
}

// Probes takes a new verdict of the primary's probes.
func (d *Decider) Probes(now time.Time, up bool) (Change, bool) {
	d.st.ProbesUp = up
	return d.eval(now)
}

// Drill makes the primary look down until until (a zero or past until ends
// a running drill).
func (d *Decider) Drill(now, until time.Time) (Change, bool) {
	d.st.DrillUntil = until
	return d.eval(now)
}

// Tick re-evaluates at now: the caller calls it at Next.
func (d *Decider) Tick(now time.Time) (Change, bool) { return d.eval(now) }

// Next is when Tick must run next (a drill's end, a hold's end); zero:
// nothing is pending.
func (d *Decider) Next() time.Time {
	switch {
	case !d.st.DrillUntil.IsZero():
		return d.st.DrillUntil
	default:
		return d.st.BackAt
	}
}

// State is the current decision.
func (d *Decider) State() State { return d.st }

func (d *Decider) eval(now time.Time) (Change, bool) {
	drilling := now.Before(d.st.DrillUntil)
	if !drilling {
		d.st.DrillUntil = time.Time{}
	}
	up := d.st.ProbesUp && !drilling
	switch {
	case !up:
		d.upSince, d.st.BackAt = time.Time{}, time.Time{}
	case d.upSince.IsZero():
		d.upSince = now
	}
	switch {
	case d.st.Active == Primary && !up:
		d.drilled = drilling
		return d.move(Cellular, now, drilling), true
	case d.st.Active == Cellular && up:
		d.st.BackAt = d.upSince.Add(d.hold)
		if now.Before(d.st.BackAt) {
			return Change{}, false
		}
		return d.move(Primary, now, d.drilled), true
	}
	return Change{}, false
}

func (d *Decider) move(to Uplink, now time.Time, drill bool) Change {
	d.st.Active, d.st.Since, d.st.BackAt = to, now, time.Time{}
	return Change{To: to, At: now, Drill: drill}
}
