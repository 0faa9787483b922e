package daemon

import (
	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/pppd"
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

func (d *Daemon) pppdOptions() pppd.Options {
	p := d.cfg.PPP
	return pppd.Options{
		Path: p.PPPD, Unit: p.Unit, Linkname: Linkname,
		LCPEchoInterval: p.LCPEchoInterval, LCPEchoFailure: p.LCPEchoFailure,
		PeerDNS: p.PeerDNS, MTU: p.MTU, Baud: d.cfg.Modem.Baud, Extra: p.ExtraArgs(),
		Debug: d.cfg.LogLevel == "debug",
	}
}

func (d *Daemon) bringupConfig(pin string) modem.BringupConfig {
	m := d.cfg.Modem
	return modem.BringupConfig{
		Init: m.Init, PIN: pin, APN: m.APN, PDPType: m.PDPType, CID: 1,
		AllowRoaming: m.AllowRoaming, RegistrationTimeout: m.RegistrationTimeout,
		CommandTimeout: m.CommandTimeout,
	}
}

func (d *Daemon) proberConfig(iface string) health.ProberConfig {
	p := d.cfg.Health.Probes
	cfg := health.ProberConfig{
		Interface: iface, Quorum: p.Quorum, Interval: p.Interval, FailingInterval: p.FailingInterval,
		Timeout: p.Timeout, DownAfter: p.DownAfter, UpAfter: p.UpAfter,
		MaxLoss: p.MaxLoss, MaxLatency: p.MaxLatency,
	}
	for _, t := range p.Targets {
		cfg.Targets = append(cfg.Targets, health.Target{Kind: t.Kind, Addr: t.Addr})
	}
	return cfg
}
