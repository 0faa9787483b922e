package modem

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// regSources are polled in this order; CGREG (3G) and CEREG (LTE) are the
// packet registrations a data call needs, CREG is circuit-switched.
var regSources = []string{"CREG", "CGREG", "CEREG"}

// regState is what is known of the three registrations.
type regState struct {
	stat        map[string]RegStat
	unsupported map[string]bool
	changed     bool
}

func newRegState() *regState {
	return &regState{stat: map[string]RegStat{}, unsupported: map[string]bool{}}
}

// onURC records +CxREG URCs, solicited form or not.
func (s *regState) onURC(line string) {
	if r, err := ParseCREG(line); err == nil {
		s.stat[r.Source] = r.Stat
		s.changed = true
	}
}

// poll queries each registration once. A query the modem refuses (ERROR,
// CME 4) is not asked again.
func (s *regState) poll(ctx context.Context, b *bringup) error {
	for _, src := range regSources {
		if s.unsupported[src] {
			continue
		}
		r, err := b.cmd(ctx, "AT+"+src+"?")
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, ErrError) || errors.Is(err, ErrNotSupported) {
				s.unsupported[src] = true
			}
			b.e.log.Debug("registration query failed", "err", err)
			continue
		}
		if line, ok := r.Find("+" + src + ":"); ok {
			if reg, err := ParseCREG("+" + src + ": " + line); err == nil {
				s.stat[src] = reg.Stat
			}
		}
	}
	return nil
}

// evaluate decides whether registration is done. Packet registration (CEREG,
// CGREG) at home, or roaming when allowed, is success; CREG counts only when
// the modem answers neither packet query. Denied ends the wait at once.
func (s *regState) evaluate(allowRoaming bool, info *Info) (done bool, err error) {
	sources := []string{"CEREG", "CGREG"}
	if s.unsupported["CEREG"] && s.unsupported["CGREG"] {
		sources = []string{"CREG"}
	}
	roaming := ""
	for _, src := range sources {
		st, ok := s.stat[src]
		if !ok || !st.Registered() {
			continue
		}
		if st.Roaming() && !allowRoaming {
			roaming = src
			continue
		}
		info.Reg, info.RegSource = st, src
		return true, nil
	}
	if roaming != "" {
		info.Reg, info.RegSource = s.stat[roaming], roaming
		return true, ErrRoamingNotAllowed
	}
	for _, src := range sources {
		if st, ok := s.stat[src]; ok && st == RegDenied {
			info.Reg, info.RegSource = RegDenied, src
			return true, ErrRegistrationDenied
		}
	}
	for _, src := range []string{"CEREG", "CGREG", "CREG"} {
		if st, ok := s.stat[src]; ok {
			info.Reg, info.RegSource = st, src
			break
		}
	}
	return false, nil
}

// register polls registration every regPoll, and reacts at once to +CxREG
// URCs in between, until registered, denied, refused roaming or timeout.
func (b *bringup) register(ctx context.Context) error {
	s := newRegState()
	remove := b.e.watch(s.onURC)
	defer remove()
	deadline := time.Now().Add(b.cfg.RegistrationTimeout)
	last := Info{Reg: -1}
	for {
		if err := s.poll(ctx, b); err != nil {
			return err
		}
		for {
			done, err := s.evaluate(b.cfg.AllowRoaming, &b.info)
			if b.info != last {
				last = b.info
				b.report()
			}
			if done {
				if err != nil {
					return fmt.Errorf("registration (%s %s): %w", b.info.RegSource, b.info.Reg, err)
				}
				return nil
			}
			left := time.Until(deadline)
			if left <= 0 {
				return fmt.Errorf("registration: %s %s after %s: %w", b.info.RegSource, b.info.Reg, b.cfg.RegistrationTimeout, ErrNotRegistered)
			}
			s.changed = false
			if err := b.e.drainStop(ctx, min(regPoll, left), func() bool { return s.changed }); err != nil {
				return err
			}
			if !s.changed {
				break // poll again
			}
		}
	}
}
