package daemon

// Split mode (route.mode: split): the Pi's own traffic stays on the wired
// path while that path works, and only what the Pi forwards for the LAN
// takes the metered cellular link. The routing half is route.Steer; this
// file decides Steer.Own, from probes forced through the wired interface
// (SO_BINDTODEVICE), with the same targets, quorum, hysteresis and cadence
// as the cellular probes, so one set of rules says when a path works.

import (
	"context"
	"fmt"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/systemd"
)

// steerFor is split mode's steering under config c, the Pi's own traffic
// over cellular when own is set; the zero Steer in the other modes.
func steerFor(c config.Config, kind string, own bool) route.Steer {
	if route.Mode(c.Route.Mode) != route.ModeSplit {
		return route.Steer{}
	}
	return route.Steer{Forward: c.Firewall.LAN, Cellular: cellularIface(c, kind), Own: own}
}

// CheckRoute is the config's check of split mode (a config.Check): it needs
// the wired interface to watch, and LAN interfaces a policy rule can name.
func CheckRoute(c config.Config) error {
	if route.Mode(c.Route.Mode) != route.ModeSplit {
		return nil
	}
	if c.Route.WiredInterface == "" {
		return &config.KeyError{Key: "route.wired_interface", Msg: "split mode keeps the Pi's own traffic on the wired path " +
			"and watches it through this interface: set it (such as eth0), or use mode: replace"}
	}
	if err := steerFor(c, modem.KindPPP, false).Validate(); err != nil {
		return &config.KeyError{Key: "firewall.lan_interfaces", Msg: fmt.Sprintf("%v (split mode routes forwarded traffic by "+
			"incoming interface: list each LAN interface by its name, or use route.mode: replace)", err)}
	}
	return nil
}

// watchWired runs the wired path's probes in split mode until ctx ends and
// moves the Pi's own traffic to cellular while they fail, back when they
// pass. Until the probes decide, the Pi's own traffic stays wired: at boot
// the wired line nearly always works, and a wrong guess the other way costs
// money. Without probe targets there is nothing to decide by, and it stays.
func (d *Daemon) watchWired(ctx context.Context) {
	if route.Mode(d.cfg.Route.Mode) != route.ModeSplit {
		return
	}
	wired := d.cfg.Route.WiredInterface
	cfg := health.NewProberConfig(wired, d.cfg.Health.Probes)
	if len(cfg.Targets) == 0 {
		d.log.Warn("split mode without probe targets: the Pi's own traffic stays on the wired path even if it fails")
		return
	}
	p := d.opts.NewProber(cfg, d.log.With("component", "wired-probe"))
	d.st.mu.Lock()
	d.wiredProber = p
	d.st.mu.Unlock()
	go func() {
		if err := p.Run(ctx); err != nil {
			d.log.Error("wired probes stopped", "err", err)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case up := <-p.Changes():
			if d.ownViaCellular.Swap(!up) == !up {
				continue
			}
			via, msg := "wired", "the wired path passes its probes again: the Pi's own traffic leaves through it"
			if !up {
				via, msg = "cellular", "the wired path fails its probes: the Pi's own traffic leaves over cellular"
			}
			d.events.Emit(systemd.OwnTraffic, msg, map[string]string{"VIA": via, "INTERFACE": wired})
			select { // the main loop re-applies the steering at once
			case d.steerChanged <- struct{}{}:
			default:
			}
		}
	}
}

// ownTrafficVia says where the Pi's own traffic leaves now, for the status.
func (d *Daemon) ownTrafficVia() string {
	switch {
	case route.Mode(d.cfg.Route.Mode) != route.ModeSplit:
		return "" // it follows the default route, which the status shows
	case d.ownViaCellular.Load():
		return "cellular"
	}
	return "wired"
}
