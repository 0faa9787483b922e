package modem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// dialTimeout is used when Dial gets no timeout; networks can take 30 s.
const dialTimeout = 60 * time.Second

// cfunTimeout bounds AT+CFUN, which powers the radio and may take seconds.
var cfunTimeout = 20 * time.Second

// Dial sends ATD<dialString> ("*99#", "*99***1#"; a full "ATD..." is taken
// as is) and waits for CONNECT, returning its text ("7200000"). NO CARRIER,
// BUSY, NO ANSWER and NO DIALTONE come back wrapped as their sentinels. The
// engine stops reading right after the CONNECT line: the next byte is pppd's.
func Dial(ctx context.Context, e *Engine, dialString string, timeout time.Duration) (string, error) {
	if dialString == "" || strings.ContainsAny(dialString, "\r\n\"") {
		return "", fmt.Errorf("dial: bad dial string %q", dialString)
	}
	cmd := dialString
	if !strings.HasPrefix(strings.ToUpper(cmd), "ATD") {
		cmd = "ATD" + cmd
	}
	if timeout <= 0 {
		timeout = dialTimeout
	}
	r, err := e.Command(ctx, cmd, timeout)
	if err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	up := strings.ToUpper(r.Final)
	if !strings.HasPrefix(up, "CONNECT") && up != "1" {
		return "", fmt.Errorf("dial: %s answered %q, not CONNECT: %w", cmd, r.Final, ErrNoCarrier)
	}
	return r.ConnectText, nil
}

// hangupTimeout bounds ATH after the escape.
const hangupTimeout = 2 * time.Second

// escapeSlack is added to the guard time: the silence before "+++" covers a
// command still leaving the tty's buffers, and the wait for the escape's OK
// covers the modem's own timer and the line.
const escapeSlack = 100 * time.Millisecond

// Hangup brings a modem still in data mode (pppd died without dropping DTR)
// back to command mode: a guard time of silence, "+++", the modem's OK once
// its guard time has passed, then ATH. A modem already in command mode just
// answers ATH. The guard time is the engine's (ShortGuard once bring-up set
// it), the silence before "+++" counts from the engine's last command (a
// wake-up AT the data-mode modem swallowed), and the OK is awaited rather
// than a second guard time slept: a redial waits for no more than the
// modem's two guard times.
func Hangup(ctx context.Context, e *Engine) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ok, err := e.escape(ctx, e.guard)
	if err == nil && !ok && e.guard < DefaultGuard {
		// The modem may have lost its short guard time (a reset, or an
		// init string setting S12): once more with the default.
		e.log.Debug("no OK to +++ with the short guard time; escaping with the default", "guard", e.guard)
		_, err = e.escape(ctx, DefaultGuard)
	}
	if err != nil {
		return fmt.Errorf("hangup: %w", err)
	}
	// A modem that ignored the escape will not answer ATH either: a short
	// timeout lets the caller move on to a reset sooner.
	if _, err := e.command(ctx, "ATH", hangupTimeout); err != nil && !errors.Is(err, ErrNoCarrier) {
		return fmt.Errorf("hangup: %w", err)
	}
	return nil
}

// escape keeps the line silent for guard (counted from the last write),
// sends "+++" and waits for the modem's OK; ok reports whether it came.
func (e *Engine) escape(ctx context.Context, guard time.Duration) (ok bool, err error) {
	quiet := guard + escapeSlack
	if !e.lastWrite.IsZero() {
		quiet -= time.Since(e.lastWrite)
	}
	if err := e.drainUntil(ctx, max(quiet, 0), nil); err != nil {
		return false, err
	}
	e.lastWrite = time.Now()
	if _, err := e.port.Write([]byte("+++")); err != nil {
		return false, fmt.Errorf("write +++: %w", err)
	}
	ok, err = e.awaitEscape(ctx, guard+escapeSlack)
	if ok {
		// The line was drained for the guard time and the modem's OK opens
		// command mode: no late reply of a timed-out command can follow, so
		// the next command need not wait out the resync's quiet (0.3 s of
		// every redial after pppd's death, whose first AT times out).
		e.stale = false
	}
	return ok, err
}

// awaitEscape reads until the OK a modem sends on leaving data mode, or d
// passes (a modem in command mode sends nothing for "+++").
func (e *Engine) awaitEscape(ctx context.Context, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		line, err := e.readLine(ctx, deadline, nil)
		switch {
		case errors.Is(err, errReadTimeout):
			return false, nil
		case err != nil:
			return false, err
		case line == "OK" || line == "0":
			return true, nil
		}
		e.idle(line)
	}
}

// Reset restarts the modem. full sends AT+CFUN=1,1: the modem reboots and its
// USB device re-enumerates, so the caller must find its ttys again; a modem
// that drops off the bus before answering is not an error. Otherwise the
// radio is cycled with AT+CFUN=4 then AT+CFUN=1.
func Reset(ctx context.Context, e *Engine, full bool) error {
	if full {
		_, err := e.Command(ctx, "AT+CFUN=1,1", cfunTimeout)
		var ce *CommandError
		if err != nil && (!errors.As(err, &ce) || ce.Final == "") && ctx.Err() == nil {
			e.log.Info("modem did not answer AT+CFUN=1,1; expected while it re-enumerates", "err", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		return nil
	}
	for _, c := range []string{"AT+CFUN=4", "AT+CFUN=1"} {
		if _, err := e.Command(ctx, c, cfunTimeout); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	return nil
}
