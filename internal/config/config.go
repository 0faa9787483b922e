// Package config reads failberry's one YAML file (/etc/failberry/failberry.yaml).
//
// Every default lives in Default, so a working file can be a single line: the
// carrier's APN. Each key is one field of Config with its tags:
//
//	yaml:"key"    its name in the file
//	check:"..."   its check: "lo..hi" (a number range, or a shortest duration
//	              "1s.."), "a|b" (one of these words), or a name in checks
//	hint:"..."    what to write instead, shown when the value is wrong; on a
//	              section, the hint of its fields that have none
//
// The file is strict: an unknown key, a wrong type or an impossible value is
// an error naming the line, the key path and what is allowed, and all
// problems are reported at once so a user fixes them in one pass. The package
// only reads: a bad config never changes the system.
package config

import (
	"net/netip"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health/target"
	"github.com/failberry/failberry/internal/config/value"
	"github.com/failberry/failberry/internal/ddns"
	"github.com/failberry/failberry/internal/failover"
	"github.com/failberry/failberry/internal/notify"
	"github.com/failberry/failberry/modem"
)

// DefaultPath is where the Debian package installs the config (a conffile).
const DefaultPath = "/etc/failberry/failberry.yaml"

// Config is the whole daemon configuration, with defaults filled in.
type Config struct {
	Modem Modem `yaml:"modem"`
	PPP   PPP   `yaml:"ppp"`
	Route Route `yaml:"route"`
	// Primary is the watch on the primary path in split and gateway mode
	// (package failover owns the section).
	Primary  failover.Config `yaml:"primary"`
	Firewall Firewall        `yaml:"firewall"`
	Health   Health          `yaml:"health"`
	Recovery Recovery        `yaml:"recovery"`
	Meter    Meter           `yaml:"meter"`
	// DNS publishes the cellular address (package ddns owns the section).
	DNS ddns.Config `yaml:"dns"`
	// Notify takes events and state out: hooks, MQTT, a webhook (package
	// notify owns the section).
	Notify notify.Config `yaml:"notify"`
	// StateDir keeps what must survive a reboot, such as reboots done today.
	StateDir string `yaml:"state_dir" check:"path"`
	RunDir   string `yaml:"run_dir" check:"path"` // holds the control socket
	LogLevel string `yaml:"log_level" check:"debug|info|warn|error"`
}

// Modem says which modem to use and how to register and dial it.
type Modem struct {
	// Device is "auto" (find the modem's AT port, again after it
	// re-enumerates under another ttyUSB number) or an absolute /dev path.
	Device string `yaml:"device" check:"device"`
	// USBID narrows "auto" to one vendor:product; empty means any known modem.
	USBID modem.USBID `yaml:"usb_id,omitempty"`
	// Interface is the USB interface number of the AT port; -1 probes each.
	Interface int      `yaml:"interface" check:"-1..255" hint:"use the USB interface number of the AT port (0..255), or -1 for any"`
	Baud      int      `yaml:"baud" check:"baud" hint:"use a baud rate such as 115200"` // USB modems ignore it; pppd wants one
	Init      []string `yaml:"init" check:"at" hint:"[\"AT+CMEE=1\"]"`                  // sent after the standard init
	// PIN unlocks the SIM; PINFile is preferred, as it keeps the PIN out of
	// a world-readable conffile.
	PIN     string `yaml:"pin,omitempty" check:"pin"`
	PINFile string `yaml:"pin_file,omitempty" check:"path"`
	// APN is required: there is no universal default.
	APN     string `yaml:"apn" check:"apn"`
	PDPType string `yaml:"pdp_type" check:"IP|IPV6|IPV4V6"`
	// DialString is dialled with ATD, on context 1 (the one failberry defines).
	DialString string `yaml:"dial" check:"dial"`
	// AllowRoaming is off by default: roaming data can be very expensive.
	AllowRoaming        bool           `yaml:"roaming"`
	RegistrationTimeout value.Duration `yaml:"registration_timeout" check:"1s.." hint:"90s"`
	CommandTimeout      value.Duration `yaml:"command_timeout" check:"100ms.." hint:"5s"` // one AT command
	// Kind is the kind of link the stick gives: "ppp" (AT and pppd over its
	// serial port), "netcard" (a USB network card: HiLink, CDC-ECM, RNDIS,
	// NCM, with its own router and DHCP server behind it) or "auto" (a stick
	// with a network interface is used as a network card, else PPP).
	Kind string `yaml:"kind" check:"auto|ppp|netcard"`
	// NetcardInterface is the name failberry gives a network-card stick's
	// interface (usb0, eth1 or enx... from the kernel, another one after
	// each re-enumeration), so the firewall, routes and probes name one
	// interface that stays.
	NetcardInterface string `yaml:"netcard_interface" check:"ifname" hint:"cell0"`
}

// PPP configures the pppd process failberry runs in the foreground.
type PPP struct {
	PPPD            string `yaml:"pppd" check:"path"`
	Unit            int    `yaml:"unit" check:"0..999" hint:"use a unit number from 0 to 999 (0 makes ppp0)"`
	LCPEchoInterval int    `yaml:"lcp_echo_interval" check:"0..3600" hint:"use seconds between LCP echoes, such as 10 (0 turns them off)"`
	LCPEchoFailure  int    `yaml:"lcp_echo_failure" check:"1..100" hint:"use a count of missed echoes from 1 to 100, such as 3"`
	PeerDNS         bool   `yaml:"peer_dns"`                                                   // pppd usepeerdns
	MTU             int    `yaml:"mtu" check:"mtu" hint:"use 0 (pppd's default) or 576..1500"` // 0 keeps pppd's
	// Options are extra pppd options, one option with its arguments per item
	// ("mru 1400"). Options failberry owns (persist, defaultroute, ...) are
	// rejected: they would fight its supervision.
	Options []string `yaml:"options" check:"pppopt" hint:"[\"novj\", \"mru 1400\"]"`
}

// Route says how the default route via the modem is installed: "replace"
// (the ppp link replaces it while failed over), "metric" (a second default
// route with Metric) or "split" (only forwarded traffic takes the cellular
// link; the Pi's own follows only while the wired path fails). Default()
// keeps "replace", what a config written before split existed meant; the
// sample config of new installs says "split".
type Route struct {
	Mode   string `yaml:"mode" check:"replace|metric|split|gateway"`
	Metric int    `yaml:"metric" check:"1..2147483647" hint:"use a route metric from 1 upwards, such as 50"`
	IPv6   bool   `yaml:"ipv6"`
	// WiredInterface is where the main router is: connections that come in
	// on it are answered through its gateway, not over cellular. Empty:
	// replies follow the default route.
	WiredInterface string `yaml:"wired_interface" check:"ifname"`
}

// Firewall configures NAT and filtering failberry keeps in its own chains.
type Firewall struct {
	Enabled bool `yaml:"enabled"`
	// LAN are the interfaces whose hosts may use the modem; a trailing "+"
	// matches a prefix, as in iptables.
	LAN           []string `yaml:"lan_interfaces" check:"ifname" hint:"[eth0]"`
	MasqueradeOut []string `yaml:"masquerade_out" check:"ifname" hint:"[eth0]"` // besides the ppp link
	// AllowSources limits failover to these hosts or networks, to avoid a
	// surprise bill. Empty means every LAN host.
	AllowSources []firewall.Source `yaml:"allow_sources" hint:"[\"192.168.1.20\", \"192.168.2.0/24\"]"`
	InboundICMP  bool              `yaml:"inbound_icmp"`
	IPv6         bool              `yaml:"ipv6"`
	// ClampMSS is on by default: ppp MTUs are small and PMTU discovery is
	// often broken on cellular.
	ClampMSS          bool           `yaml:"clamp_mss"`
	ReconcileInterval value.Duration `yaml:"reconcile_interval" check:"1s.." hint:"30s"` // puts back deleted rules
	// Forwards send ports arriving on the cellular address to LAN hosts (a
	// VPN into the house); an IPv6 host is let in at its own address.
	Forwards []firewall.Forward `yaml:"forwards" hint:"[{proto: udp, port: 51820, to: 192.168.1.10}]"`
	// DMZ and DMZ6 get everything else inbound on the cellular link but the
	// health port (and ICMP echo, with inbound_icmp).
	DMZ  netip.Addr `yaml:"dmz,omitempty"`
	DMZ6 netip.Addr `yaml:"dmz6,omitempty"`
	// SNATForwards makes forwarded connections come from the Pi's LAN
	// address, so a host whose gateway is the main router answers via the Pi.
	SNATForwards bool `yaml:"snat_forwards"`
}

// Health configures the Route 53 endpoint and the probes behind it.
type Health struct {
	Listen string `yaml:"listen" check:"listen"`
	// StatusListen serves metrics and status; never a wildcard address, as
	// the health port next to it is reachable from the internet. Empty: off.
	StatusListen string `yaml:"status_listen" check:"status_listen"`
	Probes       Probes `yaml:"probes"`
	// AllowFrom, when not empty, are the only networks that may reach the
	// health port over cellular (Route 53's checkers' published ranges):
	// scanners cost metered bytes too.
	AllowFrom []firewall.Source `yaml:"allow_from" hint:"[\"15.177.0.0/18\"]"`
}

// Meter counts the cellular link's bytes per day and billing period and
// caps the period (package meter decides, the firewall applies).
type Meter struct {
	// PeriodStartDay is the billing period's first day of the month. 29..31
	// are refused, not clamped: a period must start on a day every month has.
	PeriodStartDay int `yaml:"period_start_day" check:"1..28" hint:"use the day of the month your billing period starts, 1..28 (for a plan that renews on the 29th to 31st, use 28 or 1)"`
	// Cap is the period's allowance, bytes in plus out; 0: no cap.
	Cap value.Bytes `yaml:"cap"`
	// WarnAt are fractions of Cap warned about once per period.
	WarnAt []float64 `yaml:"warn_at" check:"fraction" hint:"[0.8, 0.95]"`
	// CapAction is what happens at 100 % until the next period or
	// `failberry data reset`.
	CapAction string `yaml:"cap_action" check:"warn|allowlist|block"`
	// CapAllow are the LAN hosts or networks still forwarded out over
	// cellular once the cap is reached with cap_action allowlist.
	CapAllow []firewall.Source `yaml:"cap_allow" hint:"[\"192.168.1.20\"]"`
}

// Probes configures the end-to-end checks over the cellular link.
type Probes struct {
	Targets []target.Target `yaml:"targets" check:"targets" hint:"[\"icmp:1.1.1.1\", \"tcp:9.9.9.9:53\"]"`
	// Quorum targets must answer for a round to count; default a majority.
	Quorum          int            `yaml:"quorum" check:"1..1000" hint:"use how many targets must answer, at least 1 (default: a majority)"`
	Interval        value.Duration `yaml:"interval" check:"1s.." hint:"60s"`            // while healthy
	FailingInterval value.Duration `yaml:"failing_interval" check:"1s.." hint:"2500ms"` // while failing, recovering or suspect
	// SuspectAfter: traffic went out and nothing came back, or a flow
	// stopped, for this long: probe at once (passive detection).
	SuspectAfter value.Duration `yaml:"suspect_after" check:"1s.." hint:"2s"`
	Timeout      value.Duration `yaml:"timeout" check:"100ms.." hint:"2500ms"`
	DownAfter    int            `yaml:"down_after" check:"1..1000" hint:"use a number of failed rounds of at least 1, such as 3"`
	UpAfter      int            `yaml:"up_after" check:"1..1000" hint:"use a number of good rounds of at least 1, such as 2"`
	// MaxLoss is the loss ratio above which a target fails; MaxLatency the
	// answer time.
	MaxLoss    float64        `yaml:"max_loss" check:"loss" hint:"use a loss ratio from 0 to 1, such as 0.5"`
	MaxLatency value.Duration `yaml:"max_latency" check:"1ms.." hint:"2500ms"`
	// BudgetBytesPerDay caps the estimated probe traffic of a quiet day
	// (health.EstimateBytesPerDay); 0 turns the check off.
	BudgetBytesPerDay value.Bytes `yaml:"budget_bytes_per_day"`
}

// Recovery is the ladder failberry climbs when the link stays down.
type Recovery struct {
	Redial     Budget     `yaml:"redial" hint:"use how many redials to try before a modem reset, such as 3"`
	ModemReset Budget     `yaml:"modem_reset" hint:"use how many modem resets to try, such as 2 (0 skips the step)"` // AT+CFUN
	PowerCycle PowerCycle `yaml:"power_cycle" hint:"use how many USB power cycles to try, such as 2 (0 skips the step)"`
	Reboot     Reboot     `yaml:"reboot"`
	// SIMRetry is the slow retry for SIM problems, which no reset fixes.
	SIMRetry value.Duration `yaml:"sim_retry" check:"1m.." hint:"10m"`
	// HealthyAfter is how long the path must pass its probes before the
	// last step counts as having worked and the ladder starts over.
	HealthyAfter value.Duration `yaml:"healthy_after" check:"1s.." hint:"2m"`
}

// Budget is how often one rung of the ladder is tried before the next
// (0 skips it), and the wait before each retry, doubled up to MaxBackoff.
type Budget struct {
	Attempts   int            `yaml:"attempts" check:"0..100"`
	Backoff    value.Duration `yaml:"backoff" check:"1s.." hint:"5s"`
	MaxBackoff value.Duration `yaml:"max_backoff" check:"1s.." hint:"60s"`
}

// PowerCycle cuts the modem's USB port power for OffTime. Hub and Port
// override the port found from the modem's tty; empty and 0 find it.
type PowerCycle struct {
	Budget  `yaml:",inline"`
	OffTime value.Duration `yaml:"off_time" check:"1s.." hint:"3s"`
	Hub     string         `yaml:"hub" check:"hub"`
	Port    int            `yaml:"port" check:"0..255" hint:"use the hub port number (1..255), or 0 to find it from the modem's tty"`
}

// Reboot is the last resort, off by default: rebooting a router is
// disruptive. MaxPerDay keeps a dead SIM from rebooting the Pi all day.
type Reboot struct {
	Enabled   bool           `yaml:"enabled"`
	MaxPerDay int            `yaml:"max_per_day" check:"1..24" hint:"use how many reboots a day are allowed, 1 to 24"`
	MinUptime value.Duration `yaml:"min_uptime" check:"5m.." hint:"30m"`
	Command   []string       `yaml:"command" check:"command" hint:"[\"/usr/bin/systemctl\", \"reboot\"]"`
}

// Default returns the built-in settings. Only Modem.APN is missing: Parse
// requires it unless Modem.Kind is netcard (a network card needs no APN).
func Default() Config {
	s := func(d time.Duration) value.Duration { return value.Duration(d) }
	return Config{
		Modem: Modem{Kind: "auto", NetcardInterface: "cell0", Device: "auto", Interface: -1, Baud: 115200, PDPType: "IP", DialString: "*99***1#",
			RegistrationTimeout: s(90 * time.Second), CommandTimeout: s(5 * time.Second)},
		PPP:     PPP{PPPD: "/usr/sbin/pppd", LCPEchoInterval: 10, LCPEchoFailure: 3},
		Route:   Route{Mode: "replace", Metric: 50, IPv6: true, WiredInterface: "eth0"},
		Primary: failover.DefaultConfig(),
		Firewall: Firewall{Enabled: true, LAN: []string{"eth0"}, InboundICMP: true, IPv6: true, ClampMSS: true, SNATForwards: true,
			ReconcileInterval: s(30 * time.Second)},
		Health: Health{Listen: ":9000", StatusListen: "127.0.0.1:9001", Probes: Probes{
			Targets:  []target.Target{{Kind: "icmp", Addr: "1.1.1.1"}, {Kind: "icmp", Addr: "8.8.8.8"}, {Kind: "tcp", Addr: "9.9.9.9:53"}},
			Quorum:   2,
			Interval: s(time.Minute), FailingInterval: s(2500 * time.Millisecond), SuspectAfter: s(2 * time.Second),
			Timeout: s(2500 * time.Millisecond), DownAfter: 2, UpAfter: 2, MaxLoss: 0.5,
			MaxLatency: s(2500 * time.Millisecond), BudgetBytesPerDay: 500_000,
		}},
		Recovery: Recovery{
			Redial:     Budget{Attempts: 3, Backoff: s(5 * time.Second), MaxBackoff: s(time.Minute)},
			ModemReset: Budget{Attempts: 2, Backoff: s(10 * time.Second), MaxBackoff: s(time.Minute)},
			PowerCycle: PowerCycle{Budget: Budget{Attempts: 2, Backoff: s(30 * time.Second), MaxBackoff: s(2 * time.Minute)},
				OffTime: s(3 * time.Second)},
			Reboot:   Reboot{MaxPerDay: 2, MinUptime: s(30 * time.Minute), Command: []string{"/usr/bin/systemctl", "reboot"}},
			SIMRetry: s(10 * time.Minute), HealthyAfter: s(2 * time.Minute),
		},
		Meter:    Meter{PeriodStartDay: 1, WarnAt: []float64{0.8, 0.95}, CapAction: "warn"},
		DNS:      ddns.DefaultConfig(),
		Notify:   notify.DefaultConfig(),
		StateDir: "/var/lib/failberry", RunDir: "/run/failberry", LogLevel: "info",
	}
}
