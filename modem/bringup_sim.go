package modem

import (
	"context"
	"errors"
	"fmt"
)

// simBusyRetries bounds how long a SIM still initialising (CME 14) is waited for.
const simBusyRetries = 10

// querySIM asks AT+CPIN? and maps the SIM-related CME errors to states.
func (b *bringup) querySIM(ctx context.Context) (SIMState, error) {
	for i := 0; ; i++ {
		r, err := b.cmd(ctx, "AT+CPIN?")
		switch {
		case errors.Is(err, ErrSIMBusy) && i < simBusyRetries:
			b.e.Drain(ctx, regPoll)
			continue
		case errors.Is(err, ErrSIMPINRequired):
			return SIMPINRequired, nil
		case errors.Is(err, ErrSIMPUKRequired):
			return SIMPUKRequired, nil
		case errors.Is(err, ErrSIMNotInserted):
			return SIMNotInserted, err
		case errors.Is(err, ErrSIMFailure), errors.Is(err, ErrSIMWrong):
			return SIMFailure, err
		case err != nil:
			return SIMUnknown, err
		}
		line, ok := r.Find("+CPIN:")
		if !ok {
			return SIMUnknown, fmt.Errorf("AT+CPIN?: no +CPIN line in %q", r.Lines)
		}
		return ParseCPIN(line)
	}
}

// unlock enters the PIN when the SIM asks for one, at most once per PIN ever.
func (b *bringup) unlock(ctx context.Context, pins PINStore) error {
	st, err := b.querySIM(ctx)
	b.info.SIM = st
	b.report()
	if err != nil {
		return fmt.Errorf("SIM: %w", err)
	}
	switch st {
	case SIMReady:
		return nil
	case SIMPUKRequired:
		return fmt.Errorf("SIM is PUK-locked; unlock it by hand (the PUK is never guessed): %w", ErrSIMPUKRequired)
	case SIMPINRequired:
	default:
		return fmt.Errorf("SIM state %s: cannot continue", st)
	}
	if b.cfg.PIN == "" {
		return fmt.Errorf("SIM needs a PIN, set modem.pin: %w", ErrSIMPINRequired)
	}
	if pins != nil && pins.Rejected(b.cfg.PIN) {
		return fmt.Errorf("SIM needs a PIN; modem.pin: %w", ErrPINRejectedBefore)
	}
	if err := b.sendPIN(ctx, pins); err != nil {
		return err
	}
	return b.waitReady(ctx)
}

// sendPIN sends the PIN once; a rejection is recorded before anything else.
func (b *bringup) sendPIN(ctx context.Context, pins PINStore) error {
	_, err := b.cmd(ctx, `AT+CPIN="`+b.cfg.PIN+`"`)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Plain ERROR (CMEE ignored) and no answer at all may both be a wrong
	// PIN the SIM counted: unless the SIM now says READY, treat them as
	// rejections, so a flaky modem cannot burn the three attempts.
	rejected := errors.Is(err, ErrIncorrectPassword) || errors.Is(err, ErrSIMPUKRequired) || errors.Is(err, ErrError)
	if errors.Is(err, ErrTimeout) {
		if st, qerr := b.querySIM(ctx); qerr == nil && st == SIMReady {
			return nil
		}
		rejected = true
	}
	if !rejected {
		return fmt.Errorf("SIM PIN: %w", err)
	}
	if pins != nil {
		if merr := pins.MarkRejected(b.cfg.PIN); merr != nil {
			err = errors.Join(err, merr)
		}
	}
	return fmt.Errorf("SIM rejected modem.pin, it will not be sent again: %w", err)
}

// waitReady polls AT+CPIN? until READY; some SIMs take a few seconds.
func (b *bringup) waitReady(ctx context.Context) error {
	for range simBusyRetries {
		st, err := b.querySIM(ctx)
		b.info.SIM = st
		if err == nil && st == SIMReady {
			b.report()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.e.Drain(ctx, regPoll)
	}
	return fmt.Errorf("SIM not ready after PIN (state %s)", b.info.SIM)
}

// signal reads CSQ and COPS?; failures only log (never AT+COPS=?, it can
// stall the modem for a minute).
func (b *bringup) signal(ctx context.Context) error {
	b.readSignal(ctx)
	b.report()
	return ctx.Err()
}

func (b *bringup) readSignal(ctx context.Context) error {
	var errs []error
	if r, err := b.cmd(ctx, "AT+CSQ"); err != nil {
		errs = append(errs, err)
	} else if line, ok := r.Find("+CSQ:"); ok {
		if s, err := ParseCSQ(line); err == nil {
			b.info.RSSI, b.info.SignalDBM, b.info.SignalKnown = s.RSSI, s.DBM, s.Known
		} else {
			errs = append(errs, err)
		}
	}
	if r, err := b.cmd(ctx, "AT+COPS?"); err != nil {
		errs = append(errs, err)
	} else if line, ok := r.Find("+COPS:"); ok {
		if op, err := ParseCOPS(line); err == nil {
			b.info.Operator = op.Name
			if op.AcT != AcTUnknown {
				b.info.AcT = op.AcT
			}
		} else {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		b.e.log.Debug("signal/operator query failed", "err", err)
		return err
	}
	return nil
}

// context defines the PDP context unless no APN is configured.
func (b *bringup) context(ctx context.Context) error {
	if b.cfg.APN == "" {
		return nil
	}
	c := fmt.Sprintf(`AT+CGDCONT=%d,"%s","%s"`, b.cfg.CID, b.cfg.PDPType, b.cfg.APN)
	if _, err := b.cmd(ctx, c); err != nil {
		return fmt.Errorf("define PDP context: %w", err)
	}
	return nil
}
