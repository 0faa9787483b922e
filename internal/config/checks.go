package config

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health/target"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/pppd"
	"github.com/failberry/failberry/usbpower/sysfs"
)

// checks are the named checks of the check tag. Each takes the field's
// value (for a list, one item or the whole list, as its type says) and
// returns "" or what is wrong and what to write instead.
var checks = map[string]any{
	"baud":   pppd.CheckBaud,
	"path":   checkAbsPath,
	"device": modem.CheckDevice,
	"at":     modem.CheckInit,
	"pin":    modem.CheckPIN,
	"apn":    modem.CheckAPN,
	"dial":   modem.CheckDial,
	"mtu":    pppd.CheckMTU,
	"pppopt": pppd.CheckOption,
	"ifname": func(s string) string {
		return unless(firewall.ValidInterface(s) == nil,
			"%q is not an interface name; use at most 15 characters without /, : or spaces, such as eth0 (a trailing + matches a prefix)", s)
	},
	"listen": checkListen,
	// status_listen refuses wildcard addresses: metrics and state must not
	// reach the internet next to the health port.
	"status_listen": func(s string) string {
		if s == "" {
			return ""
		}
		if msg := checkListen(s); msg != "" {
			return msg
		}
		host, _, _ := net.SplitHostPort(s)
		return unless(!isWildcard(host), "%q listens on every address; metrics and status would be reachable from the internet. Use loopback (127.0.0.1:9001) or a LAN address", s)
	},
	"targets": func(t []target.Target) string {
		return unless(len(t) > 0, "is empty; list at least one target, such as [\"icmp:1.1.1.1\"]")
	},
	"loss": func(v float64) string {
		return unless(v >= 0 && v <= 1, "%v is out of range; use a loss ratio from 0 to 1, such as 0.5 (not a percentage)", v)
	},
	"fraction": func(v float64) string {
		return unless(v > 0 && v < 1, "%v is out of range; use a fraction of the cap above 0 and below 1, such as 0.8 (not a percentage)", v)
	},
	"hub": func(s string) string {
		_, _, err := sysfs.ParseDevice(s)
		return unless(s == "" || err == nil, "%q is not a USB hub path; use the sysfs name such as \"1-1\" (see uhubctl or /sys/bus/usb/devices)", s)
	},
	"command": func(argv []string) string {
		return unless(len(argv) > 0 && checkAbsPath(argv[0]) == "",
			"must start with the absolute path of a program, such as [\"/usr/bin/systemctl\", \"reboot\"]")
	},
}

// unless returns "" when ok, else the message.
func unless(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

func checkAbsPath(s string) string {
	return unless(strings.HasPrefix(s, "/") && path.Clean(s) == s && !strings.ContainsAny(s, "\x00\n"),
		"%q is not an absolute path; write it in full, such as /etc/failberry/pin", s)
}

// checkListen accepts host:port with a port in 1..65535; the host may be
// empty (all addresses), an IP or a name.
func checkListen(s string) string {
	host, port, err := net.SplitHostPort(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not host:port; use an address such as \":9000\" or \"192.168.1.2:9000\"", s)
	case !target.ValidPort(port):
		return fmt.Sprintf("%q has port %q; use a port from 1 to 65535", s, port)
	case host != "" && !target.ValidHost(host):
		return fmt.Sprintf("%q: %q is not an IP address or host name", s, host)
	}
	return ""
}

// isWildcard reports whether a listen host means "every address".
func isWildcard(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "" || (err == nil && a.IsUnspecified())
}
