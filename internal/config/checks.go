package config

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Checks for single values. Each returns "" or the message for the user.

var (
	usbIDRe  = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$`)
	apnRe    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	pinRe    = regexp.MustCompile(`^[0-9]{4,8}$`)
	dialRe   = regexp.MustCompile(`^[0-9*#+]+$`)
	hubRe    = regexp.MustCompile(`^[0-9]+(-[0-9]+(\.[0-9]+)*)?$`)
	hostRe   = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$`)
	atCmdRe  = regexp.MustCompile(`^(?i:AT)[\x20-\x7e]*$`)
	standard = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 3000000, 4000000}
)

func checkDevice(s string) string {
	if s == "auto" {
		return ""
	}
	if !strings.HasPrefix(s, "/dev/") || path.Clean(s) != s || len(s) <= len("/dev/") {
		return fmt.Sprintf("%q is not allowed; use \"auto\" or the modem's AT port as an absolute path such as /dev/ttyUSB2", s)
	}
	return ""
}

func checkUSBID(s string) string {
	if !usbIDRe.MatchString(s) {
		return fmt.Sprintf("%q is not a USB vendor:product id; use four hex digits each, such as \"19d2:0031\" (see lsusb)", s)
	}
	return ""
}

func checkBaud(v int) bool { return slices.Contains(standard, v) }

func checkAPN(s string) string {
	if s == "" {
		return "is empty; set your carrier's APN, such as \"internet\""
	}
	if len(s) > 100 || !apnRe.MatchString(s) {
		return fmt.Sprintf("%q is not a valid APN; use letters, digits, dots, dashes and underscores (at most 100), such as \"internet\"", s)
	}
	return ""
}

func checkPIN(s string) string {
	if !pinRe.MatchString(s) {
		return "is not 4 to 8 digits; write the SIM PIN in quotes, such as \"1234\""
	}
	return ""
}

func oneOf(allowed ...string) func(string) string {
	return func(s string) string {
		if !slices.Contains(allowed, s) {
			return fmt.Sprintf("%q is not allowed; use one of %s", s, strings.Join(allowed, ", "))
		}
		return ""
	}
}

func checkDial(s string) string {
	if strings.HasPrefix(strings.ToUpper(s), "ATD") {
		return fmt.Sprintf("%q includes the ATD command; write only the number, such as \"*99***1#\"", s)
	}
	if !dialRe.MatchString(s) || len(s) > 40 {
		return fmt.Sprintf("%q is not a dial string; use digits, * and #, such as \"*99***1#\" or \"*99#\"", s)
	}
	return ""
}

func checkInit(s string) string {
	if !atCmdRe.MatchString(s) || len(s) > 200 {
		return fmt.Sprintf("%q is not an AT command; each init item starts with AT and is printable text, such as \"AT+CMEE=1\"", s)
	}
	return ""
}

func checkAbsPath(s string) string {
	if !strings.HasPrefix(s, "/") || path.Clean(s) != s || strings.ContainsAny(s, "\x00\n") {
		return fmt.Sprintf("%q is not an absolute path; write it in full, such as /etc/failberry/pin", s)
	}
	return ""
}

// checkIfName follows the kernel's dev_valid_name, plus the "+" wildcard
// suffix iptables understands (ppp+).
func checkIfName(s string) string {
	base := strings.TrimSuffix(s, "+")
	if s == "" || len(s) > 15 || base == "." || base == ".." || strings.ContainsAny(base, "/:+ \t\n\x00") {
		return fmt.Sprintf("%q is not an interface name; use at most 15 characters without /, : or spaces, such as eth0 (a trailing + matches a prefix)", s)
	}
	return ""
}

// parseSource reads "192.168.1.20" (a host) or "192.168.1.0/24".
func parseSource(s string) (netip.Prefix, string) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), ""
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Sprintf("%q is not an address or network; use a host such as 192.168.1.20 or a CIDR such as 192.168.1.0/24", s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Sprintf("%q has host bits set; write the network %s, or the host without /%d", s, p.Masked(), p.Bits())
	}
	return p, ""
}

// checkListen accepts host:port with a port in 1..65535; the host may be
// empty (all addresses), an IP or a name.
func checkListen(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port; use an address such as \":9000\" or \"192.168.1.2:9000\"", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q has port %q; use a port from 1 to 65535", s, port)
	}
	if msg := checkHost(host); host != "" && msg != "" {
		return fmt.Sprintf("%q: %s", s, msg)
	}
	return ""
}

func checkHost(h string) string {
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	if len(h) > 253 || !hostRe.MatchString(h) {
		return fmt.Sprintf("%q is not an IP address or host name", h)
	}
	return ""
}

// checkStatusListen refuses wildcard addresses: the status listener serves
// metrics and state that must not reach the internet next to :9000.
func checkStatusListen(s string) string {
	if s == "" {
		return ""
	}
	if msg := checkListen(s); msg != "" {
		return msg
	}
	if host, _, _ := net.SplitHostPort(s); isWildcard(host) {
		return fmt.Sprintf("%q listens on every address; metrics and status would be reachable from the internet. Use loopback (127.0.0.1:9001) or a LAN address", s)
	}
	return ""
}

func checkHub(s string) string {
	if s != "" && !hubRe.MatchString(s) {
		return fmt.Sprintf("%q is not a USB hub path; use the sysfs name such as \"1-1\" (see uhubctl or /sys/bus/usb/devices)", s)
	}
	return ""
}

// pppOwned are pppd options failberry sets itself or that fight its
// supervision; the value says what to use instead.
var pppOwned = map[string]string{
	"persist":               "failberry redials and escalates itself; pppd must exit when the link drops",
	"demand":                "failberry decides when to dial",
	"maxfail":               "failberry counts failures (recovery.redial)",
	"holdoff":               "failberry times redials (recovery.redial.backoff)",
	"nodetach":              "failberry already runs pppd in the foreground",
	"detach":                "failberry supervises pppd in the foreground",
	"updetach":              "failberry supervises pppd in the foreground",
	"defaultroute":          "failberry owns the default route (route.mode)",
	"nodefaultroute":        "failberry owns the default route (route.mode)",
	"replacedefaultroute":   "failberry owns the default route (route.mode); pppd 2.5 dropped this option",
	"noreplacedefaultroute": "failberry owns the default route (route.mode)",
	"defaultroute-metric":   "failberry owns the default route (route.metric)",
	"defaultroute6":         "failberry owns the default route (route.ipv6)",
	"usepeerdns":            "use ppp.peer_dns",
	"mtu":                   "use ppp.mtu",
	"unit":                  "use ppp.unit",
	"ifname":                "failberry names the interface from ppp.unit",
	"linkname":              "failberry sets the link name",
	"lcp-echo-interval":     "use ppp.lcp_echo_interval",
	"lcp-echo-failure":      "use ppp.lcp_echo_failure",
	"connect":               "failberry dials the modem itself",
	"call":                  "failberry passes every option; a peers file would override them",
	"file":                  "failberry passes every option; an options file would override them",
	"pty":                   "failberry hands pppd the modem's tty",
	"logfile":               "pppd's output goes to failberry's journal",
	"disconnect":            "failberry hangs up the modem itself",
	"init":                  "use modem.init",
}

func checkPPPOption(s string) string {
	words := strings.Fields(s)
	if len(words) == 0 {
		return "is empty; give one pppd option per item, such as \"mru 1400\""
	}
	name := strings.TrimPrefix(words[0], "-")
	if why, ok := pppOwned[name]; ok {
		return fmt.Sprintf("%q cannot be set here: %s", words[0], why)
	}
	if strings.ContainsAny(s, "\x00\n\r") {
		return fmt.Sprintf("%q contains a control character", s)
	}
	return ""
}
