package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/pppd"
	"github.com/failberry/failberry/systemd"
)

// Bounds of the steps of one session. Each blocking step has a deadline, so
// the main loop always comes back to beat the heartbeat.
const (
	locateTimeout   = 60 * time.Second
	relocateTimeout = 15 * time.Second
	dialTimeout     = 60 * time.Second
	linkUpTimeout   = 60 * time.Second
	pppdStopGrace   = 5 * time.Second
	// deadPathStopGrace is pppd's grace when the path is known dead: long
	// enough to restore the tty, too short to wait for a Terminate-Ack.
	deadPathStopGrace = 300 * time.Millisecond
	wakeTimeout       = time.Second
	bootPatience      = 20 * time.Second // for a modem just reset or powered up to answer
	statusInterval    = 5 * time.Second
)

// errModemGone means the modem's tty is not there (unplugged, crashed off the
// bus, or re-enumerating).
var errModemGone = errors.New("modem not found")

// supervise runs sessions until ctx ends, taking a recovery step after each
// failure.
func (d *Daemon) supervise(ctx context.Context) {
	for ctx.Err() == nil {
		d.beat.Beat()
		err := d.session(ctx)
		if ctx.Err() != nil {
			return
		}
		class := Classify(err)
		act := d.ladder.Next(class)
		d.st.setLadder(act.Step, act.Attempt)
		d.reportFailure(err, act)
		if !d.sleep(ctx, act.Wait) {
			return
		}
		d.takeStep(ctx, act)
	}
}

// session finds and brings up the modem, dials, and runs PPP until the link
// fails, or runs a network card's link (netcard.go). It returns why it ended.
func (d *Daemon) session(ctx context.Context) error {
	found, err := d.locate(ctx)
	if err != nil {
		return err
	}
	if err := d.useKind(ctx, found.Kind()); err != nil {
		return err
	}
	if found.Net != nil {
		return d.netcardSession(ctx, *found.Net)
	}
	tty := found.TTY.DevPath
	if err := d.slot.take(ctx); err != nil {
		return err
	}
	stop := d.beatWhile(ctx, time.Duration(d.cfg.Modem.RegistrationTimeout)+dialTimeout+time.Minute)
	f, proc, err := d.bringUpAndDial(ctx, tty)
	stop()
	if err == nil {
		// The line now carries PPP: say so before giving the slot back, so
		// `failberry at` (which reads the phase once it holds the slot) refuses.
		d.setPhase(PhaseConnecting, tty)
	}
	d.slot.give()
	if err != nil {
		return err
	}
	// The closed gate suffices: PPP negotiates over the tty, and the link
	// carries nothing the gate lets through until the policy replaces it.
	err = d.gateReady(ctx)
	if err == nil {
		err = proc.Release()
	}
	if err != nil {
		_ = proc.Stop(deadPathStopGrace)
	}
	// pppd has its own copy of the descriptor: the line hangs up (DTR)
	// when pppd's is closed, as it ends.
	f.Close()
	if err != nil {
		return err
	}
	return d.online(ctx, cellLink{proc: proc, iface: pppd.Interface(d.pppdOptions()), what: "pppd"})
}

// bringUpAndDial does the AT part on one line, a plain file whose
// descriptor pppd inherits (as wvdial does), and returns that line after
// CONNECT with pppd on it, held until the caller releases it.
//
// pppd starts first, held (pppd.Start): its own start, the dynamic
// libraries and the options files, which takes most of a second on a slow
// machine with a cold cache, then overlaps the bring-up and the network's
// answer to ATD instead of following CONNECT. The held pppd does not touch
// the line; any failure on the way stops it.
func (d *Daemon) bringUpAndDial(ctx context.Context, tty string) (DialLine, PPP, error) {
	d.setPhase(PhaseBringingUp, tty)
	f, err := d.opts.Serial.OpenDial(tty, d.cfg.Modem.Baud)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: opening %s: %v", errModemGone, tty, err)
	}
	proc, err := d.opts.StartPPP(ctx, d.pppdOptions(), f, d.log.With("component", "pppd"))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("starting pppd: %w", err)
	}
	if err := d.bringUpThenDial(ctx, tty, f); err != nil {
		_ = proc.Stop(deadPathStopGrace)
		f.Close()
		return nil, nil, err
	}
	return f, proc, nil
}

func (d *Daemon) bringUpThenDial(ctx context.Context, tty string, line DialLine) error {
	eng := d.engine(line)
	if err := d.wake(ctx, eng); err != nil {
		return err
	}
	pin, err := d.simPIN()
	if err != nil {
		return err
	}
	info, err := modem.Bringup(ctx, eng, d.bringupConfig(pin), d.pins, d.st.setInfo)
	d.st.setInfo(info)
	if err != nil {
		return err
	}
	d.log.Info("modem ready", "tty", tty, "model", info.Model, "operator", info.Operator,
		"registration", info.Reg.String(), "signal_dbm", signalText(info))
	d.setPhase(PhaseDialing, tty)
	text, err := modem.Dial(ctx, eng, d.cfg.Modem.DialString, dialTimeout)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	d.log.Info("modem connected", "tty", tty, "connect", text, "operator", info.Operator)
	return nil
}

// wake makes sure the modem answers AT in command mode. A modem that was just
// reset or powered up gets bootPatience to start answering. A modem left in
// data mode by a pppd that was killed swallows AT: escape with +++ and hang up.
func (d *Daemon) wake(ctx context.Context, eng *modem.Engine) error {
	patience := wakeTimeout / 4
	if time.Since(d.st.resetAt()) < bootPatience {
		patience = bootPatience
	}
	deadline := time.Now().Add(patience)
	for {
		if _, err := eng.Command(ctx, "AT", wakeTimeout/4); err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
	}
	d.log.Info("modem silent: escaping a call left up", "step", "hangup")
	if err := modem.Hangup(ctx, eng); err != nil {
		d.log.Debug("hangup", "err", err)
		if errors.Is(err, modem.ErrTimeout) {
			// Silent through AT, the escape's guard times and ATH: a hung
			// modem, which one more AT will not wake (it cost 1.3 s).
			return fmt.Errorf("%w: %v", modem.ErrNoResponse, err)
		}
	}
	if _, err := eng.Command(ctx, "AT", wakeTimeout); err != nil {
		return fmt.Errorf("%w: %v", modem.ErrNoResponse, err)
	}
	return nil
}

func (d *Daemon) engine(p modem.Port) *modem.Engine {
	return modem.NewEngine(p, modem.EngineOptions{
		Logger:  d.log.With("component", "at"),
		Timeout: time.Duration(d.cfg.Modem.CommandTimeout),
		OnURC:   func(line string) { d.log.Debug("unsolicited", "line", line) },
		Guard:   d.st.escapeGuard(),
	})
}

// sleep waits wait on the daemon's clock in statusInterval steps, beating
// the heartbeat between them; false when ctx ended.
func (d *Daemon) sleep(ctx context.Context, wait time.Duration) bool {
	for left := wait; ; {
		d.beat.Beat()
		if left <= 0 {
			return ctx.Err() == nil
		}
		step := min(left, statusInterval)
		select {
		case <-ctx.Done():
			return false
		case <-d.opts.After(step):
		}
		left -= step
	}
}

// reportFailure is the one event per failure: what happened and what the
// ladder does next.
func (d *Daemon) reportFailure(err error, act Action) {
	kind := systemd.RecoveryStep
	switch act.Reason {
	case ClassSIM:
		kind = systemd.SIMError
		d.setPhase(PhaseSIM, errText(err))
	case ClassRegistration:
		kind = systemd.RegistrationError
		d.setPhase(PhaseRecovering, errText(err))
	case ClassUnresponsive, ClassGone:
		kind = systemd.ModemError
		d.setPhase(PhaseRecovering, errText(err))
	default:
		d.setPhase(PhaseRecovering, errText(err))
	}
	fields := map[string]string{
		"STEP": act.Step.String(), "ACTION": stepAction(d.cellKind(), d.resetBounces(), act.Step), "ATTEMPT": fmt.Sprint(act.Attempt),
		"REASON": string(act.Reason), "ERROR": errText(err), "WAIT": act.Wait.String(),
	}
	msg := fmt.Sprintf("%s (%s): next %s attempt %d in %v", errText(err), act.Reason, act.Step, act.Attempt, act.Wait)
	d.events.Emit(kind, msg, fields)
	if kind != systemd.RecoveryStep {
		d.events.Emit(systemd.RecoveryStep, msg, fields)
	}
}

func errText(err error) string {
	if err == nil {
		return "ended"
	}
	return err.Error()
}

func signalText(i modem.Info) string {
	if !i.SignalKnown {
		return "unknown"
	}
	return fmt.Sprint(i.SignalDBM)
}

// pppdOptions are pppd's settings from the config.
func (d *Daemon) pppdOptions() pppd.Options {
	p := d.cfg.PPP
	return pppd.Options{
		Path: p.PPPD, Unit: p.Unit, Linkname: Linkname,
		LCPEchoInterval: p.LCPEchoInterval, LCPEchoFailure: p.LCPEchoFailure,
		PeerDNS: p.PeerDNS, MTU: p.MTU, Baud: d.cfg.Modem.Baud, Extra: extraArgs(p.Options),
		Debug: d.cfg.LogLevel == "debug",
	}
}

// simPIN is the SIM PIN from modem.pin or modem.pin_file, for a PPP modem's
// bring-up and a network card's AT port alike.
func (d *Daemon) simPIN() (string, error) {
	f := d.cfg.Modem.PINFile
	if f == "" {
		return d.cfg.Modem.PIN, nil
	}
	pin, err := modem.ReadPINFile(f)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errConfig, err)
	}
	return pin, nil
}

// bringupConfig is the AT bring-up's settings from the config, with the PIN
// already read.
func (d *Daemon) bringupConfig(pin string) modem.BringupConfig {
	m := d.cfg.Modem
	return modem.BringupConfig{
		Init: m.Init, PIN: pin, APN: m.APN, PDPType: m.PDPType, CID: 1,
		AllowRoaming: m.AllowRoaming, RegistrationTimeout: time.Duration(m.RegistrationTimeout),
		CommandTimeout: time.Duration(m.CommandTimeout),
	}
}

// extraArgs splits ppp.options, one option with its arguments per item, into
// pppd argv words.
func extraArgs(options []string) []string {
	var args []string
	for _, o := range options {
		args = append(args, strings.Fields(o)...)
	}
	return args
}
