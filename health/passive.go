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
// works; packets going out with nothing back, or a flow of incoming packets
// that stops, for a hold-off are reason to probe at once. A download's
// receiver sends nothing once the path dies (it has nothing to
// acknowledge), so a flow that stops must be checked too, not only
// requests left unanswered.
//
// Each rule has its own hold-off, which doubles (up to max, the healthy
// interval) each time its alarm was false (the round passed) and goes back
// to the base when an alarm was real (the round failed): traffic that
// always looks like that (a one-way stream, the sparse requests of health
// checkers) does not keep the prober at its failing cadence.
type passive struct {
	base, max  time.Duration
	holdTx     time.Duration  // sent without answer
	holdStop   time.Duration  // a flow that stopped
	fired      *time.Duration // the hold-off whose rule raised the last alarm
	lastRx     time.Time      // end of the last period with incoming packets
	unanswered time.Time      // start of the first period sending without answer since
	flowing    bool           // packets came in since the last check
}

func newPassive(after, max time.Duration) passive {
	return passive{base: after, max: max, holdTx: after, holdStop: after}
}

// observe folds one period into the watch.
func (w *passive) observe(t Traffic) verdict {
	switch {
	case t.RxPackets > 0:
		w.lastRx, w.unanswered, w.flowing = t.To, time.Time{}, true
		return answered
	case t.TxPackets > 0 && w.unanswered.IsZero():
		w.unanswered = t.From
	}
	if !w.unanswered.IsZero() && t.To.Sub(w.unanswered) >= w.holdTx {
		w.fired = &w.holdTx
		return suspect
	}
	if w.flowing && t.To.Sub(w.lastRx) >= w.holdStop {
		w.flowing = false // one check per stop
		w.fired = &w.holdStop
		return suspect
	}
	return quiet
}

// checked is called when a round raised by an alarm ended: passed, the
// alarm was false and what was unanswered is explained (the path works);
// failed, the alarm was real.
func (w *passive) checked(passed bool) {
	w.unanswered, w.flowing = time.Time{}, false
	switch {
	case !passed:
		w.holdTx, w.holdStop = w.base, w.base
	case w.fired != nil:
		*w.fired = min(2**w.fired, max(w.max, w.base))
	}
	w.fired = nil
}
