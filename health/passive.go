package health

import "time"

// Traffic is what the cellular link carried from From to To: the packet
// deltas of its counters between two samples. The daemon samples the
// link's counters and hands the deltas to Observe; the prober reads no
// counters itself.
type Traffic struct {
	From, To             time.Time
	RxPackets, TxPackets uint64
}

// verdict is what one period of traffic says about the path.
type verdict int

const (
	quiet    verdict = iota // nothing to say: idle, or too early to tell
	answered                // packets came back: the path works
	suspect                 // sent without answer, or a flow stopped: probe now
)

// passive is the traffic watch: packets coming back are proof that the path
// works; packets going out with nothing back for after, or a flow of
// incoming packets that stops for after, are reason to probe at once. A
// download's receiver sends nothing once the path dies (it has nothing to
// acknowledge), so a flow that stops must be checked too, not only
// requests left unanswered.
type passive struct {
	base, after time.Duration // the hold-off; after doubles after false alarms
	max         time.Duration // after never grows beyond this (the healthy interval)
	lastRx      time.Time     // end of the last period with incoming packets
	unanswered  time.Time     // start of the first period sending without answer since
	flowing     bool          // packets came in since the last check
}

func newPassive(after, max time.Duration) passive {
	return passive{base: after, after: after, max: max}
}

// observe folds one period into the watch.
func (w *passive) observe(t Traffic) verdict {
	switch {
	case t.RxPackets > 0:
		w.lastRx, w.unanswered, w.flowing = t.To, time.Time{}, true
		w.after = w.base
		return answered
	case t.TxPackets > 0 && w.unanswered.IsZero():
		w.unanswered = t.From
	}
	if !w.unanswered.IsZero() && t.To.Sub(w.unanswered) >= w.after {
		return suspect
	}
	if w.flowing && t.To.Sub(w.lastRx) >= w.after {
		w.flowing = false // one check per stop
		return suspect
	}
	return quiet
}

// checked is called when a round passed: what was unanswered before it
// is explained (the path works), and a sender that never gets answers (a
// one-way stream) raises the alarm half as often each time, up to once per
// healthy interval, instead of keeping the prober at its failing cadence.
func (w *passive) checked(suspected bool) {
	w.unanswered, w.flowing = time.Time{}, false
	if suspected {
		w.after = min(2*w.after, max(w.max, w.base))
	}
}
