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

// passive is the traffic watch: packets coming back (in a period that sent,
// or after one) are proof that the path works; packets going out with nothing back, or a flow of incoming packets
// that stops, for a hold-off are reason to probe at once. A download's
// receiver sends nothing once the path dies (it has nothing to
// acknowledge), so a flow that stops must be checked too, not only
// requests left unanswered.
//
// Both rules want more than one period: a sender that gets no answer
// tries again (TCP retransmits, resolvers retry), and a flow is incoming
// packets in consecutive periods. A lone packet says nothing: an idle
// link carries the odd one, IPv6 router solicitations that no carrier
// answers (Linux sends them with a growing interval, forever) or a late
// segment of some connection, and taking those for alarms would probe an
// idle link at the failing cadence.
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
	txPeriods  int            // periods that sent since unanswered
	rxRun      int            // consecutive periods with incoming packets, to lastRx
	flowing    bool           // a flow came in since the last check
}

func newPassive(after, max time.Duration) passive {
	return passive{base: after, max: max, holdTx: after, holdStop: after}
}

// observe folds one period into the watch.
func (w *passive) observe(t Traffic) verdict {
	switch {
	case t.RxPackets > 0:
		asked := t.TxPackets > 0 || !w.unanswered.IsZero()
		if t.From.Equal(w.lastRx) { // periods are contiguous: this one follows
			w.rxRun++
		} else {
			w.rxRun = 1
		}
		w.lastRx, w.unanswered = t.To, time.Time{}
		w.flowing = w.flowing || w.rxRun >= 2
		if !asked {
			// Nothing went out that this answers: a router solicitation of
			// the carrier's, a scan. It proves the link delivers, not that
			// the internet answers, so it stands in for no probe; a flow
			// of it that stops is still checked.
			return quiet
		}
		return answered
	case t.TxPackets > 0:
		if w.unanswered.IsZero() {
			w.unanswered, w.txPeriods = t.From, 0
		}
		w.txPeriods++
	}
	if !w.unanswered.IsZero() && w.txPeriods >= 2 && t.To.Sub(w.unanswered) >= w.holdTx {
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

// proven is called when a scheduled round passed: the path worked after
// whatever the traffic left unanswered or a flow stopped, so neither is
// reason to probe again. Without it, a flow that stopped just before a
// scheduled round raises an alarm after it: stale evidence, and on an
// idle link a round of every target after each scheduled one.
func (w *passive) proven() {
	w.unanswered, w.flowing = time.Time{}, false
}

// rule names the rule that raised the last alarm, for the debug log.
func (w *passive) rule() string {
	if w.fired == &w.holdTx {
		return "sent without answer"
	}
	return "flow stopped"
}
