package daemon

// The firewall's part of the daemon: the policy the config describes, and
// applying it (before pppd may start), keeping it, and removing it at stop.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/systemd"
)

// FirewallPolicy is the firewall policy the config describes. `failberry
// check` prints its rules; `failberry run` applies them, with the WAN of the
// link kind in use (see cellularWAN).
func FirewallPolicy(c config.Config) firewall.Policy { return firewallPolicy(c, cellularWAN(c, "")) }

// firewallPolicy is the policy with the cellular interface (pattern) wan.
func firewallPolicy(c config.Config, wan string) firewall.Policy {
	port := 0
	if p, err := listenPort(c.Health.Listen); err == nil {
		port = p
	}
	prefixes := func(ss []firewall.Source) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, s.Prefix)
		}
		return out
	}
	sources := prefixes(c.Firewall.AllowSources)
	p := firewall.Policy{
		WAN:           wan,
		LAN:           c.Firewall.LAN,
		MasqueradeOut: c.Firewall.MasqueradeOut,
		AllowSources:  sources,
		HealthPort:    port,
		InboundICMP:   c.Firewall.InboundICMP,
		IPv6:          c.Firewall.IPv6,
		ClampMSS:      c.Firewall.ClampMSS,
		Forwards:      c.Firewall.Forwards,
		DMZ:           c.Firewall.DMZ,
		DMZ6:          c.Firewall.DMZ6,
		SNATForwards:  c.Firewall.SNATForwards,
		// Connections are marked by the link they came in on, with the
		// marks reply routing routes by (replies.go): the same constants.
		Marks:    []firewall.InterfaceMark{{Interface: wan, Mark: route.MarkCellular}},
		MarkMask: route.MarkMask,
		// The metered link: who may reach the health port, and the cap's
		// chain (open; the daemon rebuilds it with the meter's decision).
		HealthAllowFrom: prefixes(c.Health.AllowFrom),
		Cap:             capAction(c, ""),
		CapAllow:        prefixes(c.Meter.CapAllow),
	}
	if w := c.Route.WiredInterface; w != "" {
		p.Marks = append([]firewall.InterfaceMark{{Interface: w, Mark: route.MarkWired}}, p.Marks...)
	}
	if route.Mode(c.Route.Mode) == route.ModeGateway {
		gatewayPolicy(&p, c, wan)
	}
	return p
}

// ConfigChecks are the rules about the whole config that other packages
// own; every command that loads the config for use runs them.
var ConfigChecks = []config.Check{health.CheckBudget, CheckFirewall, CheckMeter, CheckRoute, func(c config.Config) error { return c.Notify.Check() }}

// policyKeys names the config key of each firewall.Policy field that has one.
var policyKeys = map[string]string{"Forwards": "firewall.forwards", "DMZ": "firewall.dmz",
	"DMZ6": "firewall.dmz6", "SNATForwards": "firewall.snat_forwards"}

// CheckFirewall is the config's check of the firewall policy (a
// config.Check): the firewall's own validation, pointed at the key and line
// of what it refuses, so `failberry check` and `failberry run` agree.
func CheckFirewall(c config.Config) error {
	_, err := firewall.Build(FirewallPolicy(c))
	var fe *firewall.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe) && policyKeys[fe.Field] != "":
		key := policyKeys[fe.Field]
		if fe.Index >= 0 {
			key = fmt.Sprintf("%s[%d]", key, fe.Index)
		}
		return &config.KeyError{Key: key, Msg: fe.Err.Error()}
	}
	return &config.KeyError{Key: "firewall", Msg: err.Error()}
}

// listenPort is the port of a listen address such as ":9000".
func listenPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port in %q", addr)
	}
	return n, nil
}

// firewallReady waits until the firewall is applied: the link must never be
// up without it.
func (d *Daemon) firewallReady(ctx context.Context) error {
	select {
	case <-d.fwDone:
		return d.fwErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gateReady waits until the closed gate is in place (or the whole policy, or
// the firewall is off): from then on nothing on the link is reachable, so
// pppd may start while the policy is still being applied.
func (d *Daemon) gateReady(ctx context.Context) error {
	select {
	case <-d.gateDone:
	case <-d.fwDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-d.fwDone:
		return d.fwErr
	default:
		return nil // fwErr is written before fwDone closes, never before
	}
}

// startFirewall applies the closed gate, then the policy, over whatever an
// earlier run left (see firewall.Gate). The gate costs a small restore per
// family, over in the time the modem takes to be found and brought up; the
// policy's much larger one overlaps PPP's negotiation instead of delaying it.
func (d *Daemon) startFirewall(ctx context.Context) error {
	if !d.cfg.Firewall.Enabled {
		close(d.gateDone)
		return nil
	}
	fw, err := d.firewall()
	if err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	d.fw = fw
	// No Cleanup first: Apply converges from whatever a crashed run left
	// (duplicate jumps, stale rules or chains) by adding before deleting,
	// so the cellular side is never open in between.
	if err := firewall.EnableForwarding(d.opts.ProcRoot, true, d.cfg.Firewall.IPv6); err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	if err := fw.Apply(ctx, firewall.Gate(firewallPolicy(d.cfg, cellularWAN(d.cfg, d.cellKind())))); err != nil {
		d.st.setFirewall(false, err)
		return fmt.Errorf("firewall: the closed gate: %w", err)
	}
	close(d.gateDone)
	if err := fw.Apply(ctx, d.currentRules()); err != nil {
		d.st.setFirewall(false, err)
		return fmt.Errorf("firewall: %w", err)
	}
	d.st.setFirewall(true, nil)
	return nil
}

// firewall is the Options' firewall, or iptables, whose repairs become
// journal events.
func (d *Daemon) firewall() (Firewall, error) {
	if d.opts.Firewall != nil {
		return d.opts.Firewall, nil
	}
	fw, err := firewall.NewSystem(d.log, d.cfg.Firewall.IPv6)
	if err != nil {
		return nil, err
	}
	fw.Repaired = func(changes []string) {
		d.events.Emit(systemd.FirewallRepaired, fmt.Sprintf("firewall rules changed behind failberry's back were restored (%d changes)", len(changes)),
			map[string]string{"CHANGES": strings.Join(changes, "; ")})
	}
	return fw, nil
}

// stopFirewall removes the rules. It runs once ctx (the daemon's root
// context) has ended, so it works under a context of its own that keeps
// ctx's values and is bounded by cleanupTimeout, within the unit's stop
// timeout.
func (d *Daemon) stopFirewall(ctx context.Context) {
	<-d.fwDone
	if d.fw == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := d.fw.Cleanup(ctx); err != nil {
		d.log.Error("firewall: removing rules at stop", "err", err)
	}
}
