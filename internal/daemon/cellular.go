package daemon

// Which kind of cellular link is in use: a PPP one (pppd over the modem's
// serial port, ppp0) or a network card (a USB stick with its own router,
// under the name modem.netcard_interface). modem.kind fixes it, or, for
// auto, each session's discovery does; the interface name, the firewall's
// WAN, the traffic counters, split mode's steering and the status follow it.

import (
	"context"
	"fmt"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/pppd"
)

// cellularWAN is the firewall's pattern for the cellular interface of kind
// (ppp or netcard; "" means the one the config fixes, PPP's until an auto
// kind has found a network card): every pppd interface, or the network
// card's one name.
func cellularWAN(c config.Config, kind string) string {
	if resolveKind(c, kind) == modem.KindNetcard {
		return c.Modem.NetcardInterface
	}
	return firewall.DefaultWAN
}

// cellularIface is the cellular interface's name for kind ("" as for
// cellularWAN): ppp0 or the network card's name.
func cellularIface(c config.Config, kind string) string {
	if resolveKind(c, kind) == modem.KindNetcard {
		return c.Modem.NetcardInterface
	}
	return pppd.Interface(pppd.Options{Unit: c.PPP.Unit})
}

// resolveKind is the kind in use: the one found, else the configured one,
// with auto taken as PPP until discovery says otherwise.
func resolveKind(c config.Config, found string) string {
	switch {
	case found != "":
		return found
	case c.Modem.Kind == modem.KindNetcard:
		return modem.KindNetcard
	}
	return modem.KindPPP
}

// cellKind is the kind in use now.
func (d *Daemon) cellKind() string {
	if k, _ := d.kind.Load().(string); k != "" {
		return k
	}
	return resolveKind(d.cfg, "")
}

// cellIface is the cellular interface's name now.
func (d *Daemon) cellIface() string { return cellularIface(d.cfg, d.cellKind()) }

// useKind switches to the kind a session found, before its link comes up.
// Only an auto kind can switch; the firewall is rebuilt for the new WAN and
// applied before this returns (the new interface is not up yet, so nothing
// is exposed in between), and its upkeep restarts with the new rules.
func (d *Daemon) useKind(ctx context.Context, kind string) error {
	if d.cellKind() == kind {
		return nil
	}
	d.kind.Store(kind)
	d.log.Info("cellular link kind", "kind", kind, "interface", d.cellIface())
	if err := d.firewallReady(ctx); err != nil || d.fw == nil {
		return err
	}
	if err := d.fw.Apply(ctx, d.currentRules()); err != nil {
		d.st.setFirewall(false, err)
		return fmt.Errorf("firewall for the %s link: %w", kind, err)
	}
	poke(d.capChanged) // keepFirewall restarts Keep with the rules of the new WAN
	return nil
}
