package config

import (
	"errors"
	"strings"
	"testing"
)

// problemsOf parses src and returns its problems as "line key: msg" strings.
func problemsOf(t *testing.T, src string) []Problem {
	t.Helper()
	_, err := Parse("f.yaml", []byte(src))
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Parse(%q) = %v, want *Error", src, err)
	}
	return cerr.Problems
}

func TestErrors(t *testing.T) {
	const apn = "modem:\n  apn: internet\n"
	tests := []struct {
		name string
		src  string
		line int
		key  string
		msg  string // substring of the message
	}{
		{"unknown top key", apn + "modme: {}\n", 3, "modme", `unknown key (did you mean "modem"?)`},
		{"unknown nested key", apn + "  apm: x\n", 3, "modem.apm", "allowed here: device, usb_id"},
		{"not a number", apn + "  baud: fast\n", 3, "modem.baud", `"fast" is not a number; use a baud rate such as 115200`},
		{"quoted number", apn + "  baud: \"115200\"\n", 3, "modem.baud", "is not a number"},
		{"odd baud", apn + "  baud: 12345\n", 3, "modem.baud", "12345 is not a standard baud rate"},
		{"bare duration", apn + "  registration_timeout: 90\n", 3, "modem.registration_timeout", `90 is a bare number; write a duration with a unit, such as "90s"`},
		{"bad duration", apn + "  command_timeout: soon\n", 3, "modem.command_timeout", `"soon" is not a duration`},
		{"yes is not a bool", apn + "  roaming: yes\n", 3, "modem.roaming", `"yes" is not a boolean; use true or false`},
		{"mapping expected", apn + "ppp: fast\n", 3, "ppp", "expected a mapping with the keys pppd, unit"},
		{"list expected", apn + "firewall:\n  lan_interfaces: eth0\n", 4, "firewall.lan_interfaces", "expected a list such as [eth0]"},
		{"value expected", "modem:\n  apn: [a]\n", 2, "modem.apn", "found a list; expected a string"},
		{"bool for string", apn + "log_level: true\n", 3, "log_level", "found the boolean true"},
		{"duplicate key", apn + "  apn: other\n", 3, "modem.apn", "set twice"},
		{"apn missing", "log_level: info\n", 0, "modem.apn", "is required"},
		{"apn missing in modem", "modem:\n  baud: 9600\n", 1, "modem.apn", "is required"},
		{"apn empty", "modem:\n  apn:\n", 2, "modem.apn", "is empty"},
		{"apn bad chars", "modem:\n  apn: 'in\"ternet'\n", 2, "modem.apn", "is not a valid APN"},
		{"pin letters", apn + "  pin: abcd\n", 3, "modem.pin", "is not 4 to 8 digits"},
		{"pin too long", apn + "  pin: 123456789\n", 3, "modem.pin", "is not 4 to 8 digits"},
		{"pin and pin_file", apn + "  pin: \"1234\"\n  pin_file: /etc/failberry/pin\n", 3, "modem.pin", "keep only one"},
		{"pin_file relative", apn + "  pin_file: pin.txt\n", 3, "modem.pin_file", "is not an absolute path"},
		{"device relative", apn + "  device: ttyUSB2\n", 3, "modem.device", `use "auto" or the modem's AT port`},
		{"device outside dev", apn + "  device: /tmp/x\n", 3, "modem.device", "/dev/ttyUSB2"},
		{"usb_id bad", apn + "  usb_id: zte\n", 3, "modem.usb_id", "is not a USB vendor:product id"},
		{"usb_id with device", apn + "  device: /dev/ttyUSB2\n  usb_id: 19d2:0031\n", 4, "modem.usb_id", "only narrows device: auto"},
		{"interface without usb_id", apn + "  interface: 2\n", 3, "modem.interface", "needs modem.usb_id"},
		{"interface range", apn + "  usb_id: 19d2:0031\n  interface: 300\n", 4, "modem.interface", "300 is out of range"},
		{"pdp type", apn + "  pdp_type: ipv4\n", 3, "modem.pdp_type", "use one of IP, IPV6, IPV4V6"},
		{"dial with ATD", apn + "  dial: ATD*99#\n", 3, "modem.dial", "includes the ATD command"},
		{"dial garbage", apn + "  dial: \"call me\"\n", 3, "modem.dial", "is not a dial string"},
		{"init not AT", apn + "  init: [\"ATZ\", \"reboot\"]\n", 3, "modem.init[1]", `"reboot" is not an AT command`},
		{"pppd persist", apn + "ppp:\n  options: [persist]\n", 4, "ppp.options[0]", `"persist" cannot be set here: failberry redials`},
		{"pppd defaultroute", apn + "ppp:\n  options:\n    - novj\n    - defaultroute\n", 6, "ppp.options[1]", "failberry owns the default route"},
		{"pppd replacedefaultroute", apn + "ppp:\n  options: [replacedefaultroute]\n", 4, "ppp.options[0]", "pppd 2.5 dropped"},
		{"pppd nodetach", apn + "ppp:\n  options: [nodetach]\n", 4, "ppp.options[0]", "already runs pppd in the foreground"},
		{"pppd demand", apn + "ppp:\n  options: [\"demand\"]\n", 4, "ppp.options[0]", "failberry decides when to dial"},
		{"pppd mtu option", apn + "ppp:\n  options: [\"mtu 1400\"]\n", 4, "ppp.options[0]", "use ppp.mtu"},
		{"mtu range", apn + "ppp:\n  mtu: 100\n", 4, "ppp.mtu", "100 is out of range"},
		{"lcp failure zero", apn + "ppp:\n  lcp_echo_failure: 0\n", 4, "ppp.lcp_echo_failure", "0 is out of range"},
		{"route mode", apn + "route:\n  mode: failover\n", 4, "route.mode", `"failover" is not allowed; use one of replace, metric`},
		{"interface name long", apn + "firewall:\n  lan_interfaces: [averyveryverylongname0]\n", 4, "firewall.lan_interfaces[0]", "at most 15 characters"},
		{"interface name slash", apn + "firewall:\n  masquerade_out: [\"eth/0\"]\n", 4, "firewall.masquerade_out[0]", "is not an interface name"},
		{"allow_sources garbage", apn + "firewall:\n  allow_sources: [hubitat]\n", 4, "firewall.allow_sources[0]", "is not an address or network"},
		{"allow_sources host bits", apn + "firewall:\n  allow_sources: [192.168.1.5/24]\n", 4, "firewall.allow_sources[0]", "write the network 192.168.1.0/24"},
		{"reconcile short", apn + "firewall:\n  reconcile_interval: 100ms\n", 4, "firewall.reconcile_interval", "is too short; use at least 1s"},
		{"listen no port", apn + "health:\n  listen: localhost\n", 4, "health.listen", "is not host:port"},
		{"listen port range", apn + "health:\n  listen: \":70000\"\n", 4, "health.listen", "use a port from 1 to 65535"},
		{"listen empty", apn + "health:\n  listen: \"\"\n", 4, "health.listen", "is not host:port"},
		{"status wildcard v4", apn + "health:\n  status_listen: 0.0.0.0:9001\n", 4, "health.status_listen", "reachable from the internet"},
		{"status wildcard empty host", apn + "health:\n  status_listen: \":9001\"\n", 4, "health.status_listen", "listens on every address"},
		{"status wildcard v6", apn + "health:\n  status_listen: \"[::]:9001\"\n", 4, "health.status_listen", "listens on every address"},
		{"same port", apn + "health:\n  status_listen: 127.0.0.1:9000\n", 4, "health.status_listen", "same port as health.listen"},
		{"target kind", apn + "health:\n  probes:\n    targets: [\"ping:1.1.1.1\"]\n", 5, "health.probes.targets[0]", `"ping:1.1.1.1" is not a probe target; use "icmp:1.1.1.1"`},
		{"target tcp no port", apn + "health:\n  probes:\n    targets: [\"tcp:9.9.9.9\"]\n", 5, "health.probes.targets[0]", "is not tcp:host:port"},
		{"target http no host", apn + "health:\n  probes:\n    targets: [\"http:///x\"]\n", 5, "health.probes.targets[0]", "is not an http:// URL with a host"},
		{"target icmp host name", apn + "health:\n  probes:\n    targets: [\"icmp:example.com\"]\n", 5, "health.probes.targets[0]", `"icmp:example.com" has no IPv4 address after icmp:`},
		{"target icmp ipv6", apn + "health:\n  probes:\n    targets: [\"icmp:2606:4700::1111\"]\n", 5, "health.probes.targets[0]", "has no IPv4 address"},
		{"target https", apn + "health:\n  probes:\n    targets: [\"https://example.com/\"]\n", 5, "health.probes.targets[0]", "the prober speaks plain http only"},
		{"targets empty", apn + "health:\n  probes:\n    targets: []\n", 5, "health.probes.targets", "list at least one target"},
		{"quorum too big", apn + "health:\n  probes:\n    quorum: 4\n", 5, "health.probes.quorum", "4 is more than the 3 targets"},
		{"down_after zero", apn + "health:\n  probes:\n    down_after: 0\n", 5, "health.probes.down_after", "0 is out of range"},
		{"up_after negative", apn + "health:\n  probes:\n    up_after: -1\n", 5, "health.probes.up_after", "-1 is out of range"},
		{"interval short", apn + "health:\n  probes:\n    interval: 500ms\n", 5, "health.probes.interval", "is too short; use at least 1s"},
		{"failing slower", apn + "health:\n  probes:\n    failing_interval: 2m\n", 5, "health.probes.failing_interval", "longer than interval"},
		{"timeout long", apn + "health:\n  probes:\n    timeout: 15s\n", 5, "health.probes.timeout", "rounds would overlap"},
		{"max_loss percent", apn + "health:\n  probes:\n    max_loss: 50\n", 5, "health.probes.max_loss", "not a percentage"},
		{"max_latency > timeout", apn + "health:\n  probes:\n    max_latency: 5s\n", 5, "health.probes.max_latency", "could never trigger"},
		{"budget garbage", apn + "health:\n  probes:\n    budget_bytes_per_day: lots\n", 5, "health.probes.budget_bytes_per_day", "is not a byte count"},
		{"attempts negative", apn + "recovery:\n  redial: {attempts: -1}\n", 4, "recovery.redial.attempts", "-1 is out of range"},
		{"max_backoff < backoff", apn + "recovery:\n  modem_reset:\n    backoff: 2m\n", 5, "recovery.modem_reset.max_backoff", "shorter than backoff 2m;"},
		{"hub without port", apn + "recovery:\n  power_cycle: {hub: \"1-1\"}\n", 4, "recovery.power_cycle", "set hub and port together"},
		{"hub path", apn + "recovery:\n  power_cycle: {hub: \"hub-1\", port: 2}\n", 4, "recovery.power_cycle.hub", "is not a USB hub path"},
		{"forward typo", apn + "firewall:\n  forwards:\n    - {proto: udp, port: 51820, too: 192.168.1.10}\n", 5, "firewall.forwards[0].too", `unknown key (did you mean "to"?)`},
		{"forward proto", apn + "firewall:\n  forwards:\n    - {proto: udp, port: 1, to: 192.168.1.9}\n    - {proto: sctp, port: 1, to: 192.168.1.10}\n", 6, "firewall.forwards[1].proto", `"sctp" is not allowed; use one of tcp, udp`},
		{"forward host", apn + "firewall:\n  forwards:\n    - proto: udp\n      to: nas\n", 6, "firewall.forwards[0].to", `"nas" is not an IP address`},
		{"dns zone missing", apn + "dns:\n  provider: route53\n  name: vpn.example.com\n", 3, "dns.route53.hosted_zone_id", "required; the id of the zone"},
		{"dns provider", apn + "dns:\n  name: vpn.example.com\n  provider: noip\n", 5, "dns.provider", "is not a provider; use route53"},
		{"dns timeout", apn + "dns:\n  timeout: 30\n", 4, "dns.timeout", "is a bare number"},
		{"off_time", apn + "recovery:\n  power_cycle: {off_time: 10ms}\n", 4, "recovery.power_cycle.off_time", "too short"},
		{"min_uptime", apn + "recovery:\n  reboot:\n    min_uptime: 1m\n", 5, "recovery.reboot.min_uptime", "use at least 5m,"},
		{"max_per_day", apn + "recovery:\n  reboot:\n    max_per_day: 25\n", 5, "recovery.reboot.max_per_day", "25 is out of range; use how many reboots a day are allowed, 1 to 24"},
		{"reboot command relative", apn + "recovery:\n  reboot:\n    command: [reboot]\n", 5, "recovery.reboot.command", "absolute path of a program"},
		{"sim_retry short", apn + "recovery:\n  sim_retry: 10s\n", 4, "recovery.sim_retry", "too short"},
		{"state_dir relative", apn + "state_dir: var/lib\n", 3, "state_dir", "is not an absolute path"},
		{"kind", apn + "  kind: hilink\n", 3, "modem.kind", "use one of auto, ppp, netcard"},
		{"netcard_interface ppp", apn + "  netcard_interface: ppp7\n", 3, "modem.netcard_interface", "name one interface that is not ppp*"},
		{"netcard_interface pattern", apn + "  netcard_interface: usb+\n", 3, "modem.netcard_interface", "is a pattern"},
		{"auto needs apn", "modem:\n  kind: auto\n", 1, "modem.apn", "is required"},
		{"log level", apn + "log_level: verbose\n", 3, "log_level", "use one of debug, info, warn, error"},
		// yaml.v3 reports syntax errors at its own, sometimes earlier, line.
		{"yaml syntax", apn + "  baud: [1\n", 0, "", "not valid YAML: yaml: line"},
		{"tab indent", apn + "\tbaud: 1\n", 0, "", "not valid YAML: yaml: line"},
		{"unquoted star dial", apn + "  dial: *99#\n", 0, "", "not valid YAML"},
		{"two documents", apn + "---\nlog_level: info\n", 0, "", "keep one document"},
		{"not a mapping", "- modem\n", 1, "", "expected a mapping with the keys modem, ppp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probs := problemsOf(t, tc.src)
			for _, p := range probs {
				if p.Key == tc.key && strings.Contains(p.Msg, tc.msg) {
					if p.File != "f.yaml" {
						t.Errorf("problem names file %q, want f.yaml", p.File)
					}
					if tc.line != 0 && p.Line != tc.line {
						t.Errorf("%q at line %d, want line %d", p, p.Line, tc.line)
					}
					return
				}
			}
			t.Errorf("no problem with key %q and message containing %q; got:\n%v", tc.key, tc.msg, (&Error{probs}).Error())
		})
	}
}

func TestErrorsAreAllCollectedInLineOrder(t *testing.T) {
	src := `modem:
  baud: fast
  pin: abc
health:
  status_listen: 0.0.0.0:9001
  probes:
    interval: 10
recovery:
  reboot: {max_per_day: 0}
colour: blue
`
	probs := problemsOf(t, src)
	var lines []int
	for _, p := range probs {
		lines = append(lines, p.Line)
	}
	// The missing APN (line 1), then one problem per bad line.
	want := []int{1, 2, 3, 5, 7, 9, 10}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems at lines %v, want lines %v:\n%v", len(lines), lines, want, (&Error{probs}).Error())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("problem lines %v, want %v", lines, want)
		}
	}
	msg := (&Error{probs}).Error()
	if n := strings.Count(msg, "\n"); n != len(want)-1 {
		t.Errorf("Error() has %d lines, want one per problem:\n%s", n+1, msg)
	}
	if !strings.HasPrefix(strings.Split(msg, "\n")[1], `f.yaml:2: modem.baud: "fast" is not a number`) {
		t.Errorf("second line of Error() = %q", strings.Split(msg, "\n")[1])
	}
}

func TestAliasesAreFollowed(t *testing.T) {
	c := mustParse(t, "modem: {apn: &a wan0}\nfirewall: {lan_interfaces: [*a]}\n")
	if c.Firewall.LAN[0] != "wan0" {
		t.Fatalf("lan_interfaces = %q", c.Firewall.LAN)
	}
}
