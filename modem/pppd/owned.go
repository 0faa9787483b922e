package pppd

import (
	"fmt"
	"slices"
	"strings"
)

// standardBauds are the speeds pppd's speed option names.
var standardBauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 3000000, 4000000}

// CheckBaud accepts a speed pppd can set; "" or what to write instead.
func CheckBaud(v int) string {
	if slices.Contains(standardBauds, v) {
		return ""
	}
	return fmt.Sprintf("%d is not a standard baud rate; use a baud rate such as 115200 (or 9600, 57600, 230400, 460800, 921600)", v)
}

// CheckMTU accepts 0 (pppd's default) or an MTU pppd and the carrier take.
func CheckMTU(v int) string {
	if v == 0 || v >= 576 && v <= 1500 {
		return ""
	}
	return fmt.Sprintf("%d is out of range; use 0 (pppd's default) or 576..1500", v)
}

// CheckOption checks one extra pppd option from the config ("mru 1400"):
// "" when pppd may have it, else what is wrong and what to use instead.
// Options failberry sets itself are refused, as they would fight its
// supervision of pppd.
func CheckOption(s string) string {
	words := strings.Fields(s)
	switch {
	case len(words) == 0:
		return "is empty; give one pppd option per item, such as \"mru 1400\""
	case owned[strings.TrimPrefix(words[0], "-")] != "":
		return fmt.Sprintf("%q cannot be set here: %s", words[0], owned[strings.TrimPrefix(words[0], "-")])
	case strings.ContainsAny(s, "\x00\n\r"):
		return fmt.Sprintf("%q contains a control character", s)
	}
	return ""
}

// owned are the options failberry sets itself or that fight its
// supervision, with what to use instead.
var owned = map[string]string{
	"persist": "failberry redials and escalates itself; pppd must exit when the link drops", "demand": "failberry decides when to dial",
	"maxfail": "failberry counts failures (recovery.redial)", "holdoff": "failberry times redials (recovery.redial.backoff)",
	"nodetach": "failberry already runs pppd in the foreground", "detach": "failberry supervises pppd in the foreground",
	"updetach": "failberry supervises pppd in the foreground", "defaultroute": "failberry owns the default route (route.mode)",
	"nodefaultroute": "failberry owns the default route (route.mode)", "replacedefaultroute": "failberry owns the default route (route.mode); pppd 2.5 dropped this option",
	"noreplacedefaultroute": "failberry owns the default route (route.mode)", "defaultroute-metric": "failberry owns the default route (route.metric)",
	"defaultroute6": "failberry owns the default route (route.ipv6)", "usepeerdns": "use ppp.peer_dns",
	"mtu": "use ppp.mtu", "unit": "use ppp.unit",
	"ifname": "failberry names the interface from ppp.unit", "linkname": "failberry sets the link name",
	"lcp-echo-interval": "use ppp.lcp_echo_interval", "lcp-echo-failure": "use ppp.lcp_echo_failure",
	"connect": "failberry dials the modem itself", "call": "failberry passes every option; a peers file would override them",
	"file": "failberry passes every option; an options file would override them", "pty": "failberry hands pppd the modem's tty",
	"logfile": "pppd's output goes to failberry's journal", "disconnect": "failberry hangs up the modem itself",
	"init": "use modem.init",
}
