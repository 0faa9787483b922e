package config

import (
	"net/netip"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// schema lists every key of the file and where its value goes in c.
func schema(c *Config) []field {
	return []field{
		section("modem", modemFields(&c.Modem)...),
		section("ppp", pppFields(&c.PPP)...),
		section("route",
			strF("mode", &c.Route.Mode, oneOf("replace", "metric")),
			intF("metric", &c.Route.Metric, 1, 1<<31-1, "use a route metric from 1 upwards, such as 50"),
			boolF("ipv6", &c.Route.IPv6),
		),
		section("firewall", firewallFields(&c.Firewall)...),
		section("health",
			strF("listen", &c.Health.Listen, checkListen),
			strF("status_listen", &c.Health.StatusListen, checkStatusListen),
			section("probes", probeFields(&c.Health.Probes)...),
		),
		section("recovery", recoveryFields(&c.Recovery)...),
		strF("state_dir", &c.StateDir, checkAbsPath),
		strF("run_dir", &c.RunDir, checkAbsPath),
		strF("log_level", &c.LogLevel, oneOf("debug", "info", "warn", "error")),
	}
}

func modemFields(m *Modem) []field {
	return []field{
		strF("device", &m.Device, checkDevice),
		field{"usb_id", func(d *decoder, key string, n *yaml.Node) {
			if s, ok := d.str(key, n); ok {
				if msg := checkUSBID(s); msg != "" {
					d.addf(n.Line, key, "%s", msg)
					return
				}
				m.USBID = strings.ToLower(s)
			}
		}},
		intF("interface", &m.Interface, -1, 255, "use the USB interface number of the AT port (0..255), or -1 for any"),
		field{"baud", func(d *decoder, key string, n *yaml.Node) {
			const hint = "use a baud rate such as 115200"
			if v, ok := d.integer(key, n, hint); ok {
				if !checkBaud(v) {
					d.addf(n.Line, key, "%d is not a standard baud rate; %s (or 9600, 57600, 230400, 460800, 921600)", v, hint)
					return
				}
				m.Baud = v
			}
		}},
		listF("init", &m.Init, `["AT+CMEE=1"]`, checkInit),
		strF("pin", &m.PIN, checkPIN),
		strF("pin_file", &m.PINFile, checkAbsPath),
		strF("apn", &m.APN, checkAPN),
		strF("pdp_type", &m.PDPType, oneOf("IP", "IPV6", "IPV4V6")),
		strF("dial", &m.DialString, checkDial),
		boolF("roaming", &m.AllowRoaming),
		durF("registration_timeout", &m.RegistrationTimeout, time.Second, "90s"),
		durF("command_timeout", &m.CommandTimeout, 100*time.Millisecond, "5s"),
	}
}

func pppFields(p *PPP) []field {
	return []field{
		strF("pppd", &p.PPPD, checkAbsPath),
		intF("unit", &p.Unit, 0, 999, "use a unit number from 0 to 999 (0 makes ppp0)"),
		intF("lcp_echo_interval", &p.LCPEchoInterval, 0, 3600, "use seconds between LCP echoes, such as 10 (0 turns them off)"),
		intF("lcp_echo_failure", &p.LCPEchoFailure, 1, 100, "use a count of missed echoes from 1 to 100, such as 3"),
		boolF("peer_dns", &p.PeerDNS),
		field{"mtu", func(d *decoder, key string, n *yaml.Node) {
			if v, ok := d.integer(key, n, "use 0 (pppd's default) or 576..1500"); ok {
				if v != 0 && (v < 576 || v > 1500) {
					d.addf(n.Line, key, "%d is out of range; use 0 (pppd's default) or 576..1500", v)
					return
				}
				p.MTU = v
			}
		}},
		listF("options", &p.Options, `["novj", "mru 1400"]`, checkPPPOption),
	}
}

func firewallFields(f *Firewall) []field {
	return []field{
		boolF("enabled", &f.Enabled),
		listF("lan_interfaces", &f.LAN, "[eth0]", checkIfName),
		listF("masquerade_out", &f.MasqueradeOut, "[eth0]", checkIfName),
		field{"allow_sources", func(d *decoder, key string, n *yaml.Node) {
			items, ok := d.strList(key, n, `["192.168.1.20", "192.168.2.0/24"]`)
			var out []netip.Prefix
			for i, s := range items {
				p, msg := parseSource(s)
				if msg != "" {
					d.addf(deref(n.Content[i]).Line, itemKey(key, i), "%s", msg)
					ok = false
				}
				out = append(out, p)
			}
			if ok {
				f.AllowSources = out
			}
		}},
		boolF("inbound_icmp", &f.InboundICMP),
		boolF("ipv6", &f.IPv6),
		boolF("clamp_mss", &f.ClampMSS),
		durF("reconcile_interval", &f.ReconcileInterval, time.Second, "30s"),
	}
}

func probeFields(p *Probes) []field {
	return []field{
		field{"targets", func(d *decoder, key string, n *yaml.Node) {
			items, ok := d.strList(key, n, `["icmp:1.1.1.1", "tcp:9.9.9.9:53"]`)
			var out []ProbeTarget
			for i, s := range items {
				t, err := ParseProbeTarget(s)
				if err != nil {
					d.addf(deref(n.Content[i]).Line, itemKey(key, i), "%v", err)
					ok = false
				}
				out = append(out, t)
			}
			if ok && len(out) == 0 {
				d.addf(n.Line, key, "is empty; list at least one target, such as [\"icmp:1.1.1.1\"]")
				ok = false
			}
			if ok {
				p.Targets = out
			}
		}},
		intF("quorum", &p.Quorum, 1, 1000, "use how many targets must answer, at least 1 (default: a majority)"),
		durF("interval", &p.Interval, time.Second, "60s"),
		durF("failing_interval", &p.FailingInterval, time.Second, "10s"),
		durF("timeout", &p.Timeout, 100*time.Millisecond, "3s"),
		intF("down_after", &p.DownAfter, 1, 1000, "use a number of failed rounds of at least 1, such as 3"),
		intF("up_after", &p.UpAfter, 1, 1000, "use a number of good rounds of at least 1, such as 2"),
		field{"max_loss", func(d *decoder, key string, n *yaml.Node) {
			if v, ok := d.float(key, n, "use a loss ratio from 0 to 1, such as 0.5"); ok {
				if v < 0 || v > 1 {
					d.addf(n.Line, key, "%v is out of range; use a loss ratio from 0 to 1, such as 0.5 (not a percentage)", v)
					return
				}
				p.MaxLoss = v
			}
		}},
		durF("max_latency", &p.MaxLatency, time.Millisecond, "2s"),
		field{"budget_bytes_per_day", func(d *decoder, key string, n *yaml.Node) {
			s, ok := d.scalar(key, n, "a byte count")
			if !ok {
				return
			}
			v, ok := parseBytes(s)
			if !ok {
				d.addf(n.Line, key, "%q is not a byte count; use a number such as 5000000 or \"5MB\" (0 turns the check off)", s)
				return
			}
			p.BudgetBytesPerDay = v
		}},
	}
}

func recoveryFields(r *Recovery) []field {
	pc := &r.PowerCycle
	return []field{
		section("redial", stepFields(&r.Redial, "use how many redials to try before a modem reset, such as 3")...),
		section("modem_reset", stepFields(&r.ModemReset, "use how many modem resets to try, such as 2 (0 skips the step)")...),
		section("power_cycle", append(stepFields(&pc.Step, "use how many USB power cycles to try, such as 2 (0 skips the step)"),
			durF("off_time", &pc.OffTime, time.Second, "3s"),
			strF("hub", &pc.Hub, checkHub),
			intF("port", &pc.Port, 0, 255, "use the hub port number (1..255), or 0 to find it from the modem's tty"),
		)...),
		section("reboot",
			boolF("enabled", &r.Reboot.Enabled),
			intF("max_per_day", &r.Reboot.MaxPerDay, 1, 24, "use how many reboots a day are allowed, 1 to 24"),
			durF("min_uptime", &r.Reboot.MinUptime, 5*time.Minute, "30m"),
			field{"command", func(d *decoder, key string, n *yaml.Node) {
				items, ok := d.strList(key, n, `["/usr/bin/systemctl", "reboot"]`)
				if ok && (len(items) == 0 || checkAbsPath(items[0]) != "") {
					d.addf(n.Line, key, "must start with the absolute path of a program, such as [\"/usr/bin/systemctl\", \"reboot\"]")
					ok = false
				}
				if ok {
					r.Reboot.Command = items
				}
			}},
		),
		durF("sim_retry", &r.SIMRetry, time.Minute, "10m"),
	}
}
