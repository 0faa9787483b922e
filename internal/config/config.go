// Package config reads failberry's one YAML file (/etc/failberry/failberry.yaml).
//
// Every default lives in the binary (see Default), so a working file can be a
// single line: the carrier's APN. The file is strict: an unknown key, a wrong
// type or an impossible value is an error naming the key path, the line and
// what is allowed, and all problems are reported at once so a user fixes them
// in one pass. The package only reads: a bad config never changes the system.
package config

import (
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// DefaultPath is where the Debian package installs the config (a conffile).
const DefaultPath = "/etc/failberry/failberry.yaml"

// Config is the whole daemon configuration, with defaults filled in.
type Config struct {
	Modem    Modem
	PPP      PPP
	Route    Route
	Firewall Firewall
	Health   Health
	Recovery Recovery
	// StateDir (state_dir) keeps counters that must survive a reboot, such as
	// reboots done today. Default /var/lib/failberry (systemd StateDirectory).
	StateDir string
	// RunDir (run_dir) holds the control socket. Default /run/failberry.
	RunDir string
	// LogLevel (log_level) is debug, info, warn or error. Default info.
	LogLevel string
}

// Modem says which modem to use and how to register and dial it.
type Modem struct {
	// Device (device) is "auto" (find the modem's AT port) or an absolute
	// /dev path such as /dev/ttyUSB2. ttyUSB numbers move after a modem
	// re-enumerates, so "auto" (optionally narrowed by USBID) is the default.
	Device string
	// USBID (usb_id) narrows "auto" to one vendor:product, e.g. "19d2:0031",
	// in lower-case hex. Empty means any known modem.
	USBID string
	// Interface (interface) is the USB interface number of the AT port when
	// USBID is set; -1 means probe every interface.
	Interface int
	// Baud (baud) is the serial speed; USB modems ignore it, pppd wants one.
	Baud int
	// Init (init) are extra AT commands sent after the standard init.
	Init []string
	// PIN (pin) unlocks the SIM; prefer PINFile so the PIN is not in a
	// world-readable conffile. Use ResolvePIN rather than reading these.
	PIN string
	// PINFile (pin_file) is a file holding the PIN, not world-readable.
	PINFile string
	// APN (apn) is the carrier's access point name. Required: there is no
	// universal default.
	APN string
	// PDPType (pdp_type) is IP, IPV6 or IPV4V6 (AT+CGDCONT). Default IP.
	PDPType string
	// DialString (dial) is the number dialled with ATD. Default "*99***1#"
	// (context 1, the one failberry defines).
	DialString string
	// AllowRoaming (roaming) lets failberry dial while registered roaming
	// (CREG stat 5). Default false: roaming data can be very expensive.
	AllowRoaming bool
	// RegistrationTimeout (registration_timeout) bounds the wait for network
	// registration before a recovery step. Default 90s.
	RegistrationTimeout time.Duration
	// CommandTimeout (command_timeout) bounds one AT command. Default 5s.
	CommandTimeout time.Duration
}

// PPP configures the pppd process failberry runs in the foreground.
type PPP struct {
	// PPPD (pppd) is the pppd binary. Default /usr/sbin/pppd.
	PPPD string
	// Unit (unit) makes the interface pppN. Default 0.
	Unit int
	// LCPEchoInterval (lcp_echo_interval) seconds between LCP echoes; 0 turns
	// them off for carriers that never answer them. Default 10.
	LCPEchoInterval int
	// LCPEchoFailure (lcp_echo_failure) unanswered echoes before pppd exits.
	// Default 3.
	LCPEchoFailure int
	// PeerDNS (peer_dns) asks pppd for the carrier's DNS servers (usepeerdns,
	// written to /etc/ppp/resolv.conf). Default false.
	PeerDNS bool
	// MTU (mtu); 0 keeps pppd's default.
	MTU int
	// Options (options) are extra pppd options, one option with its
	// arguments per item ("mru 1400"); see ExtraArgs. Options failberry owns
	// (persist, demand, detach, routes, ...) are rejected.
	Options []string
}

// ExtraArgs returns Options split into pppd argv words.
func (p PPP) ExtraArgs() []string {
	var args []string
	for _, o := range p.Options {
		args = append(args, strings.Fields(o)...)
	}
	return args
}

// Route says how the default route via the modem is installed.
type Route struct {
	// Mode (mode) is "replace" (the ppp link replaces the default route while
	// failed over) or "metric" (a second default route with Metric).
	Mode string
	// Metric (metric) of the ppp default route in metric mode. Default 50.
	Metric int
	// IPv6 (ipv6) also manages the IPv6 default route. Default true.
	IPv6 bool
}

// Firewall configures NAT and filtering failberry keeps in its own chains.
type Firewall struct {
	// Enabled (enabled) lets failberry manage iptables. Default true.
	Enabled bool
	// LAN (lan_interfaces) are the interfaces whose hosts may use the modem.
	// Default ["eth0"]. A trailing "+" matches a prefix, as in iptables.
	LAN []string
	// MasqueradeOut (masquerade_out) are extra interfaces to masquerade out
	// of, besides the ppp link. Default none.
	MasqueradeOut []string
	// AllowSources (allow_sources) limits failover to these hosts or
	// networks (a bare address is a /32 or /128), to avoid bill shock.
	// Empty means every LAN host.
	AllowSources []netip.Prefix
	// InboundICMP (inbound_icmp) accepts ICMP on the ppp link. Default true.
	InboundICMP bool
	// IPv6 (ipv6) also manages ip6tables. Default true.
	IPv6 bool
	// ClampMSS (clamp_mss) clamps TCP MSS to the path MTU. Default true:
	// ppp MTUs are small and PMTU discovery is often broken on cellular.
	ClampMSS bool
	// ReconcileInterval (reconcile_interval) is how often rules removed
	// behind failberry's back are put back. Default 30s.
	ReconcileInterval time.Duration
}

// Health configures the Route 53 endpoint and the probes behind it.
type Health struct {
	// Listen (listen) is the public health endpoint, host:port. Default ":9000".
	Listen string
	// StatusListen (status_listen) serves metrics and status. It must not be
	// a wildcard address: the health port is reachable from the internet and
	// metrics would leak. Empty turns it off. Default "127.0.0.1:9001".
	StatusListen string
	// Probes decide whether the path works end to end.
	Probes Probes
}

// Probes configures the end-to-end checks.
type Probes struct {
	// Targets (targets), written "icmp:1.1.1.1", "tcp:9.9.9.9:53" or
	// "http://example.com/". Default icmp:1.1.1.1, icmp:8.8.8.8, tcp:9.9.9.9:53.
	Targets []ProbeTarget
	// Quorum (quorum) targets must answer for a round to count as good.
	// Default: a majority of Targets.
	Quorum int
	// Interval (interval) between rounds while healthy. Default 60s.
	Interval time.Duration
	// FailingInterval (failing_interval) between rounds while failing or
	// recovering. Default 10s.
	FailingInterval time.Duration
	// Timeout (timeout) of one probe. Default 3s.
	Timeout time.Duration
	// DownAfter (down_after) failed rounds before the path is down. Default 3.
	DownAfter int
	// UpAfter (up_after) good rounds before it is up again. Default 2.
	UpAfter int
	// MaxLoss (max_loss) is the loss ratio (0..1) above which a target fails.
	// Default 0.5.
	MaxLoss float64
	// MaxLatency (max_latency) above which a target fails. Default 2s.
	MaxLatency time.Duration
	// BudgetBytesPerDay (budget_bytes_per_day) caps the probe traffic at the
	// healthy interval; 0 turns the check off. Default 5 MB (5000000).
	BudgetBytesPerDay int64
}

// Recovery is the ladder failberry climbs when the link stays down.
type Recovery struct {
	// Redial (redial) restarts pppd. Default 3 attempts, backoff 5s..60s.
	Redial Step
	// ModemReset (modem_reset) resets the modem (AT+CFUN). Default 2
	// attempts, backoff 10s..60s.
	ModemReset Step
	// PowerCycle (power_cycle) cuts the USB port power. Default 2 attempts.
	PowerCycle PowerCycle
	// Reboot (reboot) reboots the Pi as the last step. Off by default.
	Reboot Reboot
	// SIMRetry (sim_retry) is the slow retry for SIM problems (no SIM, PUK),
	// which no reset fixes. Default 10m.
	SIMRetry time.Duration
}

// Step is one rung of the recovery ladder.
type Step struct {
	// Attempts (attempts) before moving to the next step; 0 skips the step.
	Attempts int
	// Backoff (backoff) before the first retry, doubled up to MaxBackoff
	// (max_backoff).
	Backoff, MaxBackoff time.Duration
}

// PowerCycle is the USB power step.
type PowerCycle struct {
	Step
	// OffTime (off_time) the port stays unpowered. Default 3s.
	OffTime time.Duration
	// Hub (hub) and Port (port) override the hub port found from the
	// modem's tty, e.g. hub "1-1" port 2 on a Pi 2B/3B. Empty/0 = find it.
	Hub  string
	Port int
}

// Reboot is the last resort.
type Reboot struct {
	// Enabled (enabled). Default false: rebooting a router is disruptive.
	Enabled bool
	// MaxPerDay (max_per_day) 1..24. Default 2, so a dead SIM does not make
	// the Pi reboot all day.
	MaxPerDay int
	// MinUptime (min_uptime) before a reboot is allowed. Default 30m.
	MinUptime time.Duration
	// Command (command) run to reboot. Default /usr/bin/systemctl reboot.
	Command []string
}

// Default returns the built-in settings. Only Modem.APN is missing: Parse
// requires it.
func Default() Config {
	return Config{
		Modem: Modem{
			Device:              "auto",
			Interface:           -1,
			Baud:                115200,
			PDPType:             "IP",
			DialString:          "*99***1#",
			RegistrationTimeout: 90 * time.Second,
			CommandTimeout:      5 * time.Second,
		},
		PPP: PPP{
			PPPD:            "/usr/sbin/pppd",
			LCPEchoInterval: 10,
			LCPEchoFailure:  3,
		},
		Route: Route{Mode: "replace", Metric: 50, IPv6: true},
		Firewall: Firewall{
			Enabled:           true,
			LAN:               []string{"eth0"},
			InboundICMP:       true,
			IPv6:              true,
			ClampMSS:          true,
			ReconcileInterval: 30 * time.Second,
		},
		Health: Health{
			Listen:       ":9000",
			StatusListen: "127.0.0.1:9001",
			Probes: Probes{
				Targets: []ProbeTarget{
					{Kind: "icmp", Addr: "1.1.1.1"},
					{Kind: "icmp", Addr: "8.8.8.8"},
					{Kind: "tcp", Addr: "9.9.9.9:53"},
				},
				Quorum:            2,
				Interval:          60 * time.Second,
				FailingInterval:   10 * time.Second,
				Timeout:           3 * time.Second,
				DownAfter:         3,
				UpAfter:           2,
				MaxLoss:           0.5,
				MaxLatency:        2 * time.Second,
				BudgetBytesPerDay: 5_000_000,
			},
		},
		Recovery: Recovery{
			Redial:     Step{Attempts: 3, Backoff: 5 * time.Second, MaxBackoff: 60 * time.Second},
			ModemReset: Step{Attempts: 2, Backoff: 10 * time.Second, MaxBackoff: 60 * time.Second},
			PowerCycle: PowerCycle{
				Step:    Step{Attempts: 2, Backoff: 30 * time.Second, MaxBackoff: 120 * time.Second},
				OffTime: 3 * time.Second,
			},
			Reboot: Reboot{
				MaxPerDay: 2,
				MinUptime: 30 * time.Minute,
				Command:   []string{"/usr/bin/systemctl", "reboot"},
			},
			SIMRetry: 10 * time.Minute,
		},
		StateDir: "/var/lib/failberry",
		RunDir:   "/run/failberry",
		LogLevel: "info",
	}
}

// SlogLevel returns LogLevel as a slog.Level (info if unset or unknown).
func (c Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
