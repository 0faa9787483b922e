package daemon

import (
	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/internal/config"
)

// FirewallPolicy is the firewall policy the config describes. `failberry
// check` prints its rules; `failberry run` applies them.
func FirewallPolicy(c config.Config) firewall.Policy {
	port := 0
	if p, err := listenPort(c.Health.Listen); err == nil {
		port = p
	}
	return firewall.Policy{
		WAN:           firewall.DefaultWAN,
		LAN:           c.Firewall.LAN,
		MasqueradeOut: c.Firewall.MasqueradeOut,
		AllowSources:  c.Firewall.AllowSources,
		HealthPort:    port,
		InboundICMP:   c.Firewall.InboundICMP,
		IPv6:          c.Firewall.IPv6,
		ClampMSS:      c.Firewall.ClampMSS,
	}
}

// LadderConfigFrom maps the recovery section onto the ladder's budgets. The
// reboot rung only exists when rebooting is enabled.
func LadderConfigFrom(r config.Recovery) LadderConfig {
	b := func(s config.Step) Budget {
		return Budget{Attempts: s.Attempts, Backoff: s.Backoff, MaxBackoff: s.MaxBackoff}
	}
	lc := LadderConfig{
		Redial:     b(r.Redial),
		ModemReset: b(r.ModemReset),
		PowerCycle: b(r.PowerCycle.Step),
		SIMRetry:   r.SIMRetry,
		Rest:       restAfterLadder,
	}
	if r.Reboot.Enabled {
		lc.Reboot = Budget{Attempts: 1}
	}
	return lc
}
