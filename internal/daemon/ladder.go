package daemon

import (
	"fmt"
	"time"

	"github.com/failberry/failberry/internal/config"
)

// RestAfterLadder is how long the daemon rests when every rung failed, before
// it starts over from a redial. Exported for the bench's fault soak, whose
// recovery bounds must allow for it.
const RestAfterLadder = 5 * time.Minute

// Step is a rung of the recovery ladder, from the lightest to the heaviest.
type Step int

const (
	StepRedial     Step = iota // dial again over a working modem
	StepModemReset             // AT+CFUN=1,1: the modem restarts and re-enumerates
	StepPowerCycle             // cut the modem's USB port power, then restore it
	StepReboot                 // reboot the Pi (off unless enabled, and rate-limited)
	StepWait                   // nothing left to try now: wait, then start over
)

func (s Step) String() string {
	switch s {
	case StepRedial:
		return "redial"
	case StepModemReset:
		return "modem-reset"
	case StepPowerCycle:
		return "power-cycle"
	case StepReboot:
		return "reboot"
	case StepWait:
		return "wait"
	}
	return fmt.Sprintf("step(%d)", int(s))
}

// Class is what went wrong, as far as recovery cares.
type Class string

const (
	ClassSIM          Class = "sim"          // no SIM, PIN needed or rejected, PUK: no amount of power fixes it
	ClassRegistration Class = "registration" // not registered or denied: the network, not the modem
	ClassDial         Class = "dial"         // NO CARRIER, BUSY, ...: the call failed
	ClassPPP          Class = "ppp"          // pppd exited: negotiation failed, peer dead, hangup
	ClassPath         Class = "path"         // online but the probes fail: "connected, no traffic"
	ClassUnresponsive Class = "unresponsive" // the modem does not answer AT: firmware crashed
	ClassGone         Class = "gone"         // the modem's tty disappeared, or never appeared
	ClassConfig       Class = "config"       // our side: nothing to recover by force
)

// Action is the ladder's decision: which step, which attempt of it, and how
// long to wait before acting.
type Action struct {
	Step    Step
	Attempt int
	Wait    time.Duration
	Reason  Class
}

// Ladder decides the next recovery step from the failures it is told about.
// It escalates when a step's budget is spent and starts over after a success.
// The zero value is not usable; use NewLadder.
type Ladder struct {
	cfg     config.Recovery
	step    Step
	attempt int // attempts made at step
}

// NewLadder returns a ladder at its bottom rung, with the budgets of the
// recovery section. A step with zero attempts is skipped (for example the
// power cycle on a board where it is refused); the reboot rung only exists
// when rebooting is enabled.
func NewLadder(cfg config.Recovery) *Ladder { return &Ladder{cfg: cfg} }

// Success resets the ladder. Call it only on proof that the last step worked:
// the path passed its probes and stayed up for recovery.healthy_after (a link
// that merely comes up may fail again at once, and must keep climbing).
func (l *Ladder) Success() { l.step, l.attempt = StepRedial, 0 }

// Position reports the current step and how many attempts it has had.
func (l *Ladder) Position() (Step, int) { return l.step, l.attempt }

// Next records a failure of class c and returns what to do about it.
func (l *Ladder) Next(c Class) Action {
	switch c {
	case ClassSIM, ClassConfig:
		// Power cycles and reboots never fix a SIM or a config: retry slowly,
		// at the bottom of the ladder, without climbing it.
		l.step, l.attempt = StepRedial, 0
		return Action{Step: StepRedial, Attempt: 1, Wait: time.Duration(l.cfg.SIMRetry), Reason: c}
	case ClassUnresponsive, ClassGone:
		// A modem that does not answer cannot be redialled or reset over AT.
		if l.step < StepPowerCycle {
			l.step, l.attempt = StepPowerCycle, 0
		}
	}
	for {
		b := l.budget(l.step)
		if l.step == StepWait {
			l.step, l.attempt = StepRedial, 0
			return Action{Step: StepWait, Attempt: 1, Wait: RestAfterLadder, Reason: c}
		}
		if l.attempt < b.Attempts {
			l.attempt++
			return Action{Step: l.step, Attempt: l.attempt, Wait: backoff(b, l.attempt), Reason: c}
		}
		l.step, l.attempt = l.step+1, 0
	}
}

func (l *Ladder) budget(s Step) config.Budget {
	switch s {
	case StepRedial:
		return l.cfg.Redial
	case StepModemReset:
		return l.cfg.ModemReset
	case StepPowerCycle:
		return l.cfg.PowerCycle.Budget
	case StepReboot:
		if l.cfg.Reboot.Enabled {
			return config.Budget{Attempts: 1}
		}
	}
	return config.Budget{}
}

// backoff is the wait before an attempt: none before the first (a dropped link
// comes back fastest by redialling at once), Backoff before the second, then
// doubling up to MaxBackoff.
func backoff(b config.Budget, attempt int) time.Duration {
	if attempt <= 1 {
		return 0
	}
	d, most := time.Duration(b.Backoff), time.Duration(b.MaxBackoff)
	for i := 2; i < attempt && d < most; i++ {
		d *= 2
	}
	if most > 0 && d > most {
		d = most
	}
	return d
}
