package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/systemd"
	"github.com/failberry/failberry/usbpower"
)

const (
	reenumTimeout = 60 * time.Second
	resetTimeout  = 20 * time.Second
)

// locate finds the modem's AT port, or a network-card stick (modem.kind
// decides which may do). It gives up after locateTimeout (a modem not
// plugged in yet is retried by the ladder), or relocateTimeout once the
// modem was seen, so the ladder acts soon on a modem that vanished.
func (d *Daemon) locate(ctx context.Context) (modem.Found, error) {
	d.setPhase(PhaseSearching, "")
	sel := modem.Selector{VIDPID: d.cfg.Modem.USBID, Interface: d.cfg.Modem.Interface}
	if d.cfg.Modem.Device != "auto" {
		sel.Device = d.cfg.Modem.Device
	}
	timeout := locateTimeout
	if d.st.currentTTY() != "" || d.st.netDevice() != "" {
		timeout = relocateTimeout // it was here a moment ago: act sooner
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := d.beatWhile(lctx, timeout)
	defer stop()
	f, err := modem.LocateLink(lctx, d.cfg.Modem.Kind, sel, d.netSelector(), d.opts.SysRoot, d.opts.DevRoot, d.probeAT, time.Second)
	if err != nil {
		return f, fmt.Errorf("%w: %v", errModemGone, err)
	}
	if f.Net != nil {
		d.foundNetcard(*f.Net)
		return f, nil
	}
	c := f.TTY
	if d.st.currentTTY() != c.DevPath {
		d.log.Info("modem found", "tty", c.DevPath, "usb", c.VID+":"+c.PID, "interface", c.Interface, "device", c.USBDevice)
	}
	d.st.setTTY(c.DevPath)
	if loc, err := usbpower.LocateTTY(d.opts.SysRoot, ttyName(c.DevPath)); err == nil {
		d.st.mu.Lock()
		d.st.usbLoc = loc
		d.st.mu.Unlock()
	}
	return f, nil
}

// ttyName is the kernel's name of the tty at path, as sysfs lists it: a
// /dev/serial/by-id link is followed, and a DevRoot other than /dev does
// not matter.
func ttyName(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return filepath.Base(path)
}

// beatWhile keeps the heartbeat going during a long step that does not return
// to the main loop (a registration wait can outlast the watchdog), but only
// for the step's own bound: a step stuck beyond it stops the beats, and the
// watchdog restarts the daemon. Call stop when the step ends.
func (d *Daemon) beatWhile(ctx context.Context, bound time.Duration) (stop func()) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	go func() {
		t := time.NewTicker(statusInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.beat.Beat()
			}
		}
	}()
	return cancel
}

// probeAT is discovery's test of a candidate port: does it answer AT? The
// port the modem was last seen on counts without a probe: a call left up
// swallows AT, and wake() escapes it, or the ladder acts on a silent modem.
// A port silent to AT may be that modem at the daemon's start, left in data
// mode by a run that was killed (no port is known yet then): it gets the
// escape (+++ between guard times, then ATH) and one more AT.
func (d *Daemon) probeAT(ctx context.Context, path string) bool {
	if path == d.st.currentTTY() {
		return true
	}
	if !d.slot.tryTake() {
		return false
	}
	defer d.slot.give()
	p, err := d.opts.Serial.OpenAT(path, d.cfg.Modem.Baud)
	if err != nil {
		return false
	}
	defer p.Close()
	eng := d.engine(p)
	for range 2 {
		if _, err := eng.Command(ctx, "AT", wakeTimeout); err == nil {
			return true
		}
	}
	if ctx.Err() != nil {
		return false
	}
	if err := modem.Hangup(ctx, eng); err != nil {
		d.log.Debug("escaping a silent port", "tty", path, "err", err)
	}
	_, err = eng.Command(ctx, "AT", wakeTimeout)
	return err == nil
}

// takeStep carries out a recovery action. Failures are logged: the next
// session's outcome tells the ladder whether it helped.
func (d *Daemon) takeStep(ctx context.Context, act Action) {
	var err error
	switch {
	case act.Step == StepModemReset && d.resetBounces():
		err = d.bounceNetcard(ctx)
	case act.Step == StepModemReset:
		err = d.resetModem(ctx, act.Attempt > 1)
	case act.Step == StepPowerCycle:
		err = d.powerCycle(ctx)
	case act.Step == StepReboot:
		err = d.rebootPi(ctx)
	}
	if err != nil {
		d.log.Warn("recovery step failed", "step", act.Step.String(), "attempt", act.Attempt, "err", err)
	}
}

// resetModem restarts the radio (AT+CFUN=4, AT+CFUN=1) or, from the second
// attempt, the whole modem (AT+CFUN=1,1, which re-enumerates it on USB).
func (d *Daemon) resetModem(ctx context.Context, full bool) error {
	tty := d.st.currentTTY()
	if tty == "" {
		return errModemGone
	}
	if err := d.slot.take(ctx); err != nil {
		return fmt.Errorf("waiting for the modem: %w", err)
	}
	defer d.slot.give()
	p, err := d.opts.Serial.OpenAT(tty, d.cfg.Modem.Baud)
	if err != nil {
		return fmt.Errorf("%w: %v", errModemGone, err)
	}
	defer p.Close()
	eng := d.engine(p)
	if err := d.wake(ctx, eng); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, resetTimeout)
	defer cancel()
	defer d.st.markReset()
	return modem.Reset(rctx, eng, full)
}

// powerCycle cuts the modem's hub port power and waits for the modem to
// enumerate again, under whatever tty name it gets.
func (d *Daemon) powerCycle(ctx context.Context) error {
	loc, err := d.modemLocation()
	if err != nil {
		return fmt.Errorf("power cycle: %w", err)
	}
	off := time.Duration(d.cfg.Recovery.PowerCycle.OffTime)
	stop := d.beatWhile(ctx, off+reenumTimeout+time.Minute)
	defer stop()
	start := time.Now()
	t, err := d.opts.USB.Cycle(ctx, loc, off)
	if err != nil {
		return fmt.Errorf("power cycle hub %s port %d: %w", loc.Hub, loc.Port, err)
	}
	wctx, cancel := context.WithTimeout(ctx, reenumTimeout)
	defer cancel()
	if d.cellKind() == modem.KindNetcard {
		return d.awaitNetcard(wctx, loc, t, start)
	}
	match := usbpower.MatchLocation(loc.Device, loc.Interface)
	name, err := usbpower.WaitTTY(wctx, d.opts.SysRoot, match, 100*time.Millisecond)
	if err != nil {
		return fmt.Errorf("modem did not come back after the power cycle: %w", err)
	}
	tty := filepath.Join(d.opts.DevRoot, name)
	d.st.setTTY(tty)
	d.st.markReset()
	d.log.Info("modem re-enumerated", "tty", tty, "hub", loc.Hub, "port", loc.Port,
		"off", t.Off.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond))
	return nil
}

// modemLocation is the hub port to switch: from the config when set, else
// found from the modem's tty (remembered from the last time it was seen, so
// a modem that vanished can still be power-cycled).
func (d *Daemon) modemLocation() (usbpower.Location, error) {
	pc := d.cfg.Recovery.PowerCycle
	if pc.Hub != "" {
		return usbpower.Location{Hub: pc.Hub, Port: pc.Port, Interface: -1}, nil
	}
	d.st.mu.Lock()
	loc, tty := d.st.usbLoc, d.st.tty
	d.st.mu.Unlock()
	if tty != "" {
		if l, err := usbpower.LocateTTY(d.opts.SysRoot, ttyName(tty)); err == nil {
			d.st.mu.Lock()
			d.st.usbLoc = l
			d.st.mu.Unlock()
			return l, nil
		}
	}
	if loc.Hub == "" {
		return loc, errors.New("the modem's hub port is unknown: set recovery.power_cycle.hub and port")
	}
	return loc, nil
}

// rebootPi reboots when the guard allows it; the count is durable first.
func (d *Daemon) rebootPi(ctx context.Context) error {
	ok, why, err := d.reboot.Allow()
	if err != nil {
		return err
	}
	if !ok {
		d.log.Info("not rebooting", "why", why)
		return nil
	}
	d.flushMeter() // the reboot may not stop the daemon cleanly
	if err := d.reboot.Record(); err != nil {
		return fmt.Errorf("recording the reboot (refusing to reboot without it): %w", err)
	}
	argv := d.cfg.Recovery.Reboot.Command
	d.events.Emit(systemd.RecoveryExhausted, "rebooting: "+strings.Join(argv, " "), map[string]string{"STEP": StepReboot.String()})
	out, err := d.opts.Run(ctx, argv)
	if err != nil {
		return fmt.Errorf("reboot command %q: %w: %s", argv, err, out)
	}
	return nil
}
