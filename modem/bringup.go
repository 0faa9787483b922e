package modem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Bring-up errors callers branch on (besides the *CMEError sentinels).
var (
	// ErrPINRejectedBefore: the configured PIN was rejected by the SIM earlier
	// and will not be sent again; fix modem.pin (or clear the PIN store).
	ErrPINRejectedBefore = errors.New("PIN was rejected earlier and will not be retried")
	// ErrRoamingNotAllowed: registered only on a visited network and
	// AllowRoaming is off.
	ErrRoamingNotAllowed = errors.New("registered on a roaming network, roaming not allowed")
	// ErrRegistrationDenied: the network refused registration (<stat> 3).
	ErrRegistrationDenied = errors.New("network registration denied")
	// ErrNotRegistered: no packet registration within RegistrationTimeout.
	ErrNotRegistered = errors.New("not registered on a network")
	// ErrNoResponse: the modem answered neither AT nor ATQ0.
	ErrNoResponse = errors.New("modem does not answer AT commands")
)

// BringupConfig is what Bringup does beyond its fixed sequence. Zero values
// take the defaults noted.
type BringupConfig struct {
	Init                []string      // user's extra init strings, sent after the defaults
	PIN                 string        // SIM PIN, 4..8 digits; empty when the SIM has none
	APN                 string        // empty: the modem's stored context 1 is left as is
	PDPType             string        // IP (default), IPV6 or IPV4V6
	CID                 int           // PDP context id, default 1
	AllowRoaming        bool          // accept <stat> 5 (roaming)
	RegistrationTimeout time.Duration // default 60 s
	CommandTimeout      time.Duration // per command; default the engine's
}

// Info is what bring-up learns about the modem, for logs and the
// status endpoint. SignalDBM is meaningful only when SignalKnown.
type Info struct {
	Manufacturer, Model, Revision string
	SIM                           SIMState
	Reg                           RegStat
	RegSource                     string // CREG, CGREG or CEREG
	Operator                      string
	AcT                           AccessTech
	RSSI                          int
	SignalDBM                     int
	SignalKnown                   bool
	// EscapeGuard is the "+++" guard time the modem took (ATS12); zero
	// when it refused, so it keeps its default, DefaultGuard.
	EscapeGuard time.Duration
}

// regPoll is how often registration is polled while waiting.
var regPoll = 500 * time.Millisecond

// bringup carries one Bringup call's state.
type bringup struct {
	e        *Engine
	cfg      BringupConfig
	info     Info
	progress func(Info)
}

func (b *bringup) report() {
	if b.progress != nil {
		b.progress(b.info)
	}
}

func (b *bringup) cmd(ctx context.Context, c string) (Response, error) {
	return b.e.Command(ctx, c, b.cfg.CommandTimeout)
}

// Bringup takes the modem from unknown state to registered with the PDP
// context defined: wake, ATZ, ATE0, ATQ0 V1, AT+CMEE=1, cfg.Init, identity,
// SIM unlock, registration wait, signal and operator, AT+CGDCONT. progress
// (may be nil) is called as Info fills in.
func Bringup(ctx context.Context, e *Engine, cfg BringupConfig, pins PINStore, progress func(Info)) (Info, error) {
	if err := checkConfig(&cfg); err != nil {
		return Info{}, fmt.Errorf("bring-up: %w", err)
	}
	b := &bringup{e: e, cfg: cfg, progress: progress}
	steps := []func(context.Context) error{b.wake, b.defaults, b.identify, func(ctx context.Context) error {
		return b.unlock(ctx, pins)
	}, b.register, b.signal, b.context}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return b.info, fmt.Errorf("bring-up: %w", err)
		}
	}
	return b.info, nil
}

// Inspect is Bringup for a network-card stick's AT port: the stick's own
// router registers and connects, so only wake, the init sequence, identity,
// the SIM unlock (the same PIN rules: a rejected PIN is never sent again),
// signal and operator; no registration wait and no AT+CGDCONT (the stick
// keeps its own APN profile, which its router dials with).
func Inspect(ctx context.Context, e *Engine, cfg BringupConfig, pins PINStore, progress func(Info)) (Info, error) {
	if err := checkConfig(&cfg); err != nil {
		return Info{}, fmt.Errorf("AT status: %w", err)
	}
	b := &bringup{e: e, cfg: cfg, progress: progress}
	steps := []func(context.Context) error{b.wake, b.defaults, b.identify, func(ctx context.Context) error {
		return b.unlock(ctx, pins)
	}, b.signal}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return b.info, fmt.Errorf("AT status: %w", err)
		}
	}
	return b.info, nil
}

// checkConfig fills defaults and refuses values that would break the command
// line (quotes) or send garbage as a PIN.
func checkConfig(c *BringupConfig) error {
	if c.PDPType == "" {
		c.PDPType = "IP"
	}
	c.PDPType = strings.ToUpper(c.PDPType)
	if c.PDPType != "IP" && c.PDPType != "IPV6" && c.PDPType != "IPV4V6" {
		return fmt.Errorf("PDP type %q: want IP, IPV6 or IPV4V6", c.PDPType)
	}
	if c.CID == 0 {
		c.CID = 1
	}
	if c.CID < 1 || c.CID > 255 {
		return fmt.Errorf("PDP context id %d out of range", c.CID)
	}
	if c.RegistrationTimeout <= 0 {
		c.RegistrationTimeout = 60 * time.Second
	}
	if msg := CheckAPN(c.APN); c.APN != "" && msg != "" {
		return fmt.Errorf("APN: %s", msg)
	}
	if c.PIN != "" && !ValidPIN(c.PIN) {
		return errors.New("modem.pin must be 4 to 8 digits")
	}
	for _, s := range c.Init {
		if msg := CheckInit(s); msg != "" {
			return fmt.Errorf("init: %s", redact(msg))
		}
	}
	return nil
}

// ValidPIN reports whether p is a SIM PIN: 4 to 8 digits.
func ValidPIN(p string) bool {
	if len(p) < 4 || len(p) > 8 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// wake sends AT up to three times, then ATQ0 for a modem left in quiet mode.
func (b *bringup) wake(ctx context.Context) error {
	for range 3 {
		_, err := b.cmd(ctx, "AT")
		if !errors.Is(err, ErrTimeout) {
			return ctxOr(ctx, nil)
		}
	}
	if _, err := b.cmd(ctx, "ATQ0"); errors.Is(err, ErrTimeout) {
		return ErrNoResponse
	}
	return ctxOr(ctx, nil)
}

// ctxOr prefers the context's error, so cancellation is reported as such.
func ctxOr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// DefaultGuard is the escape guard time of a modem whose S12 nobody set:
// V.250's default of 50 fiftieths of a second.
const DefaultGuard = time.Second

// ShortGuard is the guard time bring-up asks for (ATS12=10). Each escape
// from data mode after pppd died costs two guard times, which is most of a
// redial with the default; a PPP stream never holds "+++" between two
// silences (every frame starts and ends with a 0x7e flag), so a short guard
// cannot be mistaken for data. The user's init strings come after and may
// set S12 otherwise; an escape that gets no OK is retried with DefaultGuard.
const ShortGuard = 200 * time.Millisecond

// defaults sends the fixed init sequence, then the user's strings.
func (b *bringup) defaults(ctx context.Context) error {
	for _, c := range []string{"ATZ", "ATE0", "ATQ0 V1"} {
		if _, err := b.cmd(ctx, c); err != nil {
			return err
		}
	}
	if _, err := b.cmd(ctx, "AT+CMEE=1"); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.e.log.Warn("modem refuses numeric +CME errors; errors will be plain ERROR", "err", err)
	}
	if _, err := b.cmd(ctx, fmt.Sprintf("ATS12=%d", ShortGuard*50/time.Second)); err == nil {
		b.info.EscapeGuard = ShortGuard
	} else if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, c := range b.cfg.Init {
		if _, err := b.cmd(ctx, c); err != nil {
			return fmt.Errorf("init string: %w", err)
		}
	}
	return nil
}

// identify reads manufacturer, model and revision; failures only log.
func (b *bringup) identify(ctx context.Context) error {
	for _, q := range []struct {
		cmd string
		dst *string
	}{{"AT+CGMI", &b.info.Manufacturer}, {"AT+CGMM", &b.info.Model}, {"AT+CGMR", &b.info.Revision}} {
		r, err := b.cmd(ctx, q.cmd)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.e.log.Debug("identity query failed", "err", err)
			continue
		}
		if len(r.Lines) > 0 {
			*q.dst = strings.Trim(payload(r.Lines[0], q.cmd[2:]+":"), `" `)
		}
	}
	b.report()
	return nil
}
