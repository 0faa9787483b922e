package daemon

import (
	"net/netip"
	"strings"
	"time"

	"github.com/failberry/failberry/firewall"
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
	var sources []netip.Prefix
	for _, s := range c.Firewall.AllowSources {
		sources = append(sources, s.Prefix)
	}
	return firewall.Policy{
		WAN:           firewall.DefaultWAN,
		LAN:           c.Firewall.LAN,
		MasqueradeOut: c.Firewall.MasqueradeOut,
		AllowSources:  sources,
		HealthPort:    port,
		InboundICMP:   c.Firewall.InboundICMP,
		IPv6:          c.Firewall.IPv6,
		ClampMSS:      c.Firewall.ClampMSS,
	}
}

func (d *Daemon) pppdOptions() pppd.Options {
	p := d.cfg.PPP
	return pppd.Options{
		Path: p.PPPD, Unit: p.Unit, Linkname: Linkname,
		LCPEchoInterval: p.LCPEchoInterval, LCPEchoFailure: p.LCPEchoFailure,
		PeerDNS: p.PeerDNS, MTU: p.MTU, Baud: d.cfg.Modem.Baud, Extra: extraArgs(p.Options),
		Debug: d.cfg.LogLevel == "debug",
	}
}

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
