package config

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maskedPIN replaces the PIN in Effective output: `failberry check` output
// gets pasted into bug reports.
const maskedPIN = "****"

// The y* types mirror Config with the file's key names, for Effective.
type (
	yConfig struct {
		Modem    yModem    `yaml:"modem"`
		PPP      yPPP      `yaml:"ppp"`
		Route    yRoute    `yaml:"route"`
		Firewall yFirewall `yaml:"firewall"`
		Health   yHealth   `yaml:"health"`
		Recovery yRecovery `yaml:"recovery"`
		StateDir string    `yaml:"state_dir"`
		RunDir   string    `yaml:"run_dir"`
		LogLevel string    `yaml:"log_level"`
	}
	yModem struct {
		Device              string   `yaml:"device"`
		USBID               string   `yaml:"usb_id,omitempty"`
		Interface           int      `yaml:"interface"`
		Baud                int      `yaml:"baud"`
		Init                []string `yaml:"init"`
		PIN                 string   `yaml:"pin,omitempty"`
		PINFile             string   `yaml:"pin_file,omitempty"`
		APN                 string   `yaml:"apn"`
		PDPType             string   `yaml:"pdp_type"`
		Dial                string   `yaml:"dial"`
		Roaming             bool     `yaml:"roaming"`
		RegistrationTimeout string   `yaml:"registration_timeout"`
		CommandTimeout      string   `yaml:"command_timeout"`
	}
	yPPP struct {
		PPPD            string   `yaml:"pppd"`
		Unit            int      `yaml:"unit"`
		LCPEchoInterval int      `yaml:"lcp_echo_interval"`
		LCPEchoFailure  int      `yaml:"lcp_echo_failure"`
		PeerDNS         bool     `yaml:"peer_dns"`
		MTU             int      `yaml:"mtu"`
		Options         []string `yaml:"options"`
	}
	yRoute struct {
		Mode   string `yaml:"mode"`
		Metric int    `yaml:"metric"`
		IPv6   bool   `yaml:"ipv6"`
	}
	yFirewall struct {
		Enabled           bool     `yaml:"enabled"`
		LAN               []string `yaml:"lan_interfaces"`
		MasqueradeOut     []string `yaml:"masquerade_out"`
		AllowSources      []string `yaml:"allow_sources"`
		InboundICMP       bool     `yaml:"inbound_icmp"`
		IPv6              bool     `yaml:"ipv6"`
		ClampMSS          bool     `yaml:"clamp_mss"`
		ReconcileInterval string   `yaml:"reconcile_interval"`
	}
	yHealth struct {
		Listen       string  `yaml:"listen"`
		StatusListen string  `yaml:"status_listen"`
		Probes       yProbes `yaml:"probes"`
	}
	yProbes struct {
		Targets           []string `yaml:"targets"`
		Quorum            int      `yaml:"quorum"`
		Interval          string   `yaml:"interval"`
		FailingInterval   string   `yaml:"failing_interval"`
		Timeout           string   `yaml:"timeout"`
		DownAfter         int      `yaml:"down_after"`
		UpAfter           int      `yaml:"up_after"`
		MaxLoss           float64  `yaml:"max_loss"`
		MaxLatency        string   `yaml:"max_latency"`
		BudgetBytesPerDay int64    `yaml:"budget_bytes_per_day"`
	}
	yStep struct {
		Attempts   int    `yaml:"attempts"`
		Backoff    string `yaml:"backoff"`
		MaxBackoff string `yaml:"max_backoff"`
	}
	yPowerCycle struct {
		yStep   `yaml:",inline"`
		OffTime string `yaml:"off_time"`
		Hub     string `yaml:"hub"`
		Port    int    `yaml:"port"`
	}
	yReboot struct {
		Enabled   bool     `yaml:"enabled"`
		MaxPerDay int      `yaml:"max_per_day"`
		MinUptime string   `yaml:"min_uptime"`
		Command   []string `yaml:"command"`
	}
	yRecovery struct {
		Redial     yStep       `yaml:"redial"`
		ModemReset yStep       `yaml:"modem_reset"`
		PowerCycle yPowerCycle `yaml:"power_cycle"`
		Reboot     yReboot     `yaml:"reboot"`
		SIMRetry   string      `yaml:"sim_retry"`
	}
)

// Effective returns every setting, defaults included, as YAML in the file's
// format: what `failberry check` prints. The PIN is masked, so output with a
// PIN does not parse back; everything else does, to the same Config.
func (c Config) Effective() string {
	out, err := yaml.Marshal(c.mirror())
	if err != nil { // only plain strings, numbers and lists: cannot happen
		return fmt.Sprintf("# cannot print the config: %v\n", err)
	}
	return string(out)
}

func (c Config) mirror() yConfig {
	m, p, f, pr, r := c.Modem, c.PPP, c.Firewall, c.Health.Probes, c.Recovery
	y := yConfig{
		Modem: yModem{
			Device: m.Device, USBID: m.USBID, Interface: m.Interface, Baud: m.Baud, Init: orEmpty(m.Init),
			PINFile: m.PINFile, APN: m.APN, PDPType: m.PDPType, Dial: m.DialString, Roaming: m.AllowRoaming,
			RegistrationTimeout: dur(m.RegistrationTimeout), CommandTimeout: dur(m.CommandTimeout),
		},
		PPP: yPPP{PPPD: p.PPPD, Unit: p.Unit, LCPEchoInterval: p.LCPEchoInterval, LCPEchoFailure: p.LCPEchoFailure,
			PeerDNS: p.PeerDNS, MTU: p.MTU, Options: orEmpty(p.Options)},
		Route: yRoute{Mode: c.Route.Mode, Metric: c.Route.Metric, IPv6: c.Route.IPv6},
		Firewall: yFirewall{Enabled: f.Enabled, LAN: orEmpty(f.LAN), MasqueradeOut: orEmpty(f.MasqueradeOut),
			AllowSources: []string{}, InboundICMP: f.InboundICMP, IPv6: f.IPv6, ClampMSS: f.ClampMSS,
			ReconcileInterval: dur(f.ReconcileInterval)},
		Health: yHealth{Listen: c.Health.Listen, StatusListen: c.Health.StatusListen, Probes: yProbes{
			Targets: []string{}, Quorum: pr.Quorum, Interval: dur(pr.Interval), FailingInterval: dur(pr.FailingInterval),
			Timeout: dur(pr.Timeout), DownAfter: pr.DownAfter, UpAfter: pr.UpAfter, MaxLoss: pr.MaxLoss,
			MaxLatency: dur(pr.MaxLatency), BudgetBytesPerDay: pr.BudgetBytesPerDay,
		}},
		Recovery: yRecovery{
			Redial: step(r.Redial), ModemReset: step(r.ModemReset),
			PowerCycle: yPowerCycle{yStep: step(r.PowerCycle.Step), OffTime: dur(r.PowerCycle.OffTime),
				Hub: r.PowerCycle.Hub, Port: r.PowerCycle.Port},
			Reboot: yReboot{Enabled: r.Reboot.Enabled, MaxPerDay: r.Reboot.MaxPerDay,
				MinUptime: dur(r.Reboot.MinUptime), Command: orEmpty(r.Reboot.Command)},
			SIMRetry: dur(r.SIMRetry),
		},
		StateDir: c.StateDir, RunDir: c.RunDir, LogLevel: c.LogLevel,
	}
	if m.PIN != "" {
		y.Modem.PIN = maskedPIN
	}
	for _, s := range f.AllowSources {
		y.Firewall.AllowSources = append(y.Firewall.AllowSources, s.String())
	}
	for _, t := range pr.Targets {
		y.Health.Probes.Targets = append(y.Health.Probes.Targets, t.String())
	}
	return y
}

func step(s Step) yStep {
	return yStep{Attempts: s.Attempts, Backoff: dur(s.Backoff), MaxBackoff: dur(s.MaxBackoff)}
}

// dur prints a duration as a user would write it: "1m", not "1m0s".
func dur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// orEmpty prints a nil list as [] rather than null, which reads as "none".
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
