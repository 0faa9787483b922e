package daemon

// A network-card stick's session: no AT bring-up and no dial (the stick's
// own router does both); the interface up under its fixed name, a DHCP
// lease from the stick, and then the same online period as PPP's: default
// route, reply routing, probes, health, meter.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/netcard"
	"github.com/failberry/failberry/usbpower"
)

// inspectTimeout bounds a network card's AT status read: a stick whose AT
// port hangs must not hold its link back.
const inspectTimeout = 30 * time.Second

// errNoLease: the stick's DHCP server did not answer (its router is hung or
// still booting); the ladder treats it like a PPP link that failed.
var errNoLease = errors.New("network card gave no DHCP lease")

// netcardSession runs the link of the stick n until it fails.
func (d *Daemon) netcardSession(ctx context.Context, n modem.NetCandidate) error {
	if err := d.firewallReady(ctx); err != nil {
		return err
	}
	if n.ATPort != "" {
		if err := d.inspectNetcard(ctx, filepath.Join(d.opts.DevRoot, n.ATPort)); err != nil {
			return err
		}
	}
	name := d.cfg.Modem.NetcardInterface
	d.setPhase(PhaseConnecting, n.Name)
	d.st.mu.Lock()
	prefer := d.st.lastLease
	d.st.mu.Unlock()
	host, _ := os.Hostname()
	link, err := d.opts.Netcard.Start(ctx, netcard.Config{Kernel: n.Name, Name: name, Hostname: host, Prefer: prefer,
		Logger: d.log.With("component", "dhcp")})
	switch {
	case errors.Is(err, netcard.ErrGone):
		return fmt.Errorf("%w: %v", errModemGone, err)
	case err != nil:
		return fmt.Errorf("%w: %v", errNoLease, err)
	}
	lease := link.Lease()
	d.st.mu.Lock()
	d.st.lastLease = lease.Addr.Addr()
	d.st.mu.Unlock()
	d.log.Info("network card leased", "interface", name, "addr", lease.Addr, "router", lease.Router,
		"lifetime", lease.Lifetime, "usb", n.VID+":"+n.PID, "driver", n.Driver)
	return d.online(ctx, cellLink{proc: link, iface: name, what: "DHCP",
		gateway: func() netip.Addr { return link.Lease().Router }})
}

// inspectNetcard reads a network card's signal, operator and SIM state
// over its AT port, for the status and the metrics as a PPP modem's
// bring-up does, and unlocks a SIM that asks for its PIN by the same rules.
// A SIM problem ends the session (the stick's router cannot connect either);
// an AT port that does not answer only costs the status its modem lines.
func (d *Daemon) inspectNetcard(ctx context.Context, tty string) error {
	pin, err := d.simPIN()
	if err != nil {
		return err
	}
	if err := d.slot.take(ctx); err != nil {
		return err
	}
	defer d.slot.give()
	d.setPhase(PhaseBringingUp, tty)
	port, err := d.opts.Serial.OpenAT(tty, d.cfg.Modem.Baud)
	if err != nil {
		d.log.Warn("network card's AT port does not open; no signal or SIM status", "tty", tty, "err", err)
		return nil
	}
	defer port.Close()
	ictx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	info, err := modem.Inspect(ictx, d.engine(port), d.bringupConfig(pin), d.pins, d.st.setInfo)
	d.st.setInfo(info)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case Classify(err) == ClassSIM:
		return err
	case err != nil:
		d.log.Warn("network card's AT port: status incomplete", "tty", tty, "err", err)
		return nil
	}
	d.log.Info("network card's modem", "tty", tty, "model", info.Model, "operator", info.Operator,
		"sim", info.SIM.String(), "signal_dbm", signalText(info))
	return nil
}

// foundNetcard remembers where the stick is: its USB device, to find it
// again under another name, and its hub port, for the power cycle.
func (d *Daemon) foundNetcard(n modem.NetCandidate) {
	if d.st.netDevice() != n.USBDevice {
		d.log.Info("network card found", "interface", n.Name, "usb", n.VID+":"+n.PID, "driver", n.Driver,
			"protocol", n.Protocol, "device", n.USBDevice, "at_port", n.ATPort, "cellular", n.Why)
	}
	loc, err := usbpower.LocateNet(d.opts.SysRoot, n.Name)
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	d.st.netDev, d.st.tty = n.USBDevice, ""
	if n.ATPort != "" {
		d.st.tty = filepath.Join(d.opts.DevRoot, n.ATPort) // for the AT reset and `failberry at`
	}
	if err == nil {
		d.st.usbLoc = loc
	}
}

// netSelector says which network card discovery may take: the one last seen
// first, once udev (under RunRoot) is done renaming it; under modem.kind
// auto only a cellular stick (never a USB Ethernet adapter), after a power
// cycle too.
func (d *Daemon) netSelector() modem.NetSelector {
	return modem.NetSelector{USBID: d.cfg.Modem.USBID, LastDevice: d.st.netDevice(),
		UdevRoot: filepath.Join(d.opts.RunRoot, "udev")}.ForKind(d.cfg.Modem.Kind)
}

// bounceNetcard is a network card's second rung, in place of the modem
// reset: its interface down and up again.
func (d *Daemon) bounceNetcard(ctx context.Context) error {
	name := d.cfg.Modem.NetcardInterface
	if err := d.opts.Netcard.Bounce(ctx, name); err != nil {
		return fmt.Errorf("interface down and up: %w", err)
	}
	d.log.Info("network card interface set down and up", "interface", name)
	return nil
}

// awaitNetcard waits, after the power cycle of loc, for the stick to come
// back: on the same USB device, under whatever name the kernel gives it.
func (d *Daemon) awaitNetcard(ctx context.Context, loc usbpower.Location, t usbpower.Timing, start time.Time) error {
	sel := d.netSelector()
	sel.LastDevice = loc.Device
	n, err := modem.LocateNetcard(ctx, d.opts.SysRoot, sel, 100*time.Millisecond)
	if err != nil {
		return fmt.Errorf("network card did not come back after the power cycle: %w", err)
	}
	d.foundNetcard(n)
	d.st.markReset()
	d.log.Info("network card re-enumerated", "interface", n.Name, "hub", loc.Hub, "port", loc.Port,
		"off", t.Off.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond))
	return nil
}

// stepAction is what a ladder step does for the link in use, for the
// journal: a network card's "redial" renews its lease (a new DHCP exchange
// asking for the same address); its "modem-reset" is PPP's AT+CFUN reset
// (the radio, then the whole stick) when it has an AT port, and only
// without one the interface set down and up. The AT reset replaces the
// bounce rather than following it: a bounce restarts only the host's end of
// the USB link, which the lease renewal has just shown to carry DHCP, while
// AT+CFUN restarts the radio's session with the carrier (the usual cause of
// a stick that is up and forwards nothing) and, on its second attempt, the
// stick and its router; the power cycle still follows both.
func stepAction(kind string, bounce bool, s Step) string {
	switch {
	case kind == modem.KindNetcard && s == StepRedial:
		return "renew-lease"
	case s == StepModemReset && bounce:
		return "interface-down-up"
	}
	return s.String()
}

// resetBounces says the modem-reset rung bounces the interface: a network
// card without an AT port (the one place that decides it, for the step and
// its journal entry alike).
func (d *Daemon) resetBounces() bool {
	return d.cellKind() == modem.KindNetcard && d.st.currentTTY() == ""
}
