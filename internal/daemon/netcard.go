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

// errNoLease: the stick's DHCP server did not answer (its router is hung or
// still booting); the ladder treats it like a PPP link that failed.
var errNoLease = errors.New("network card gave no DHCP lease")

// netcardSession runs the link of the stick n until it fails.
func (d *Daemon) netcardSession(ctx context.Context, n modem.NetCandidate) error {
	if err := d.firewallReady(ctx); err != nil {
		return err
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

// stepAction is what a ladder step does for the link kind in use, for the
// journal: a network card's "redial" renews its lease (a new DHCP exchange
// asking for the same address) and its "modem-reset" bounces the interface.
func stepAction(kind string, s Step) string {
	if kind == modem.KindNetcard {
		switch s {
		case StepRedial:
			return "renew-lease"
		case StepModemReset:
			return "interface-down-up"
		}
	}
	return s.String()
}
