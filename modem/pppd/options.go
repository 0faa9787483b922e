// Package pppd runs pppd on a modem port that the daemon has already dialled,
// the way wvdial does: the open tty is pppd's stdin/stdout and pppd stays in
// the foreground, so the daemon supervises it like any child and decides
// itself whether to redial, reset the modem or power-cycle it.
//
// The daemon owns the default route (pppd 2.5 dropped replacedefaultroute),
// so pppd is always told nodefaultroute, and never persist or demand: pppd
// exits when the link dies and the exit code says why.
package pppd

import (
	"fmt"
	"strconv"
)

// Options describe one pppd run. The zero value is usable: /usr/sbin/pppd on
// ppp0, no LCP echo, no peer DNS, default MTU.
type Options struct {
	// Path of the pppd binary; empty means /usr/sbin/pppd.
	Path string
	// Unit N makes the interface pppN.
	Unit int
	// Linkname makes pppd write <run>/ppp-<Linkname>.pid (pid, then ifname),
	// which KillStale reads after a crash. Empty: no pid file by name.
	Linkname string
	// LCPEchoInterval and LCPEchoFailure make pppd exit 15 (peer dead) when
	// the network stops answering; 0 leaves them out.
	LCPEchoInterval, LCPEchoFailure int
	// PeerDNS asks the peer for DNS servers (usepeerdns).
	PeerDNS bool
	// MTU of the link; 0 keeps pppd's default.
	MTU int
	// Baud sets the tty speed; 0 keeps the speed the port already has.
	Baud int
	// Local ignores the modem control lines (CD/DTR), for null-modem links
	// and test benches whose serial port has no carrier detect. The default
	// ("modem") drops DTR at the end, which hangs the call up.
	Local bool
	// HardwareFlow enables RTS/CTS (crtscts). Off by default: USB modems
	// ignore it and a bench adapter without CTS wired would stall.
	HardwareFlow bool
	// Extra options from the user's configuration, one argv word each. The
	// options the supervisor must control (persist, demand, defaultroute,
	// replacedefaultroute, updetach, detach) are dropped.
	Extra []string
	// Debug adds pppd's debug option (packet logs at debug level).
	Debug bool
}

// DefaultPath is where Debian installs pppd.
const DefaultPath = "/usr/sbin/pppd"

// forbidden are options that would take the link or the route away from the
// supervisor.
var forbidden = map[string]bool{
	"persist": true, "demand": true, "defaultroute": true,
	"replacedefaultroute": true, "updetach": true, "detach": true,
}

// fastNegotiation are the options that bring IPCP up in the fewest round
// trips: no VJ header compression (cellular networks reject it, which costs
// an IPCP Configure-Reject round), no CCP (nothing on a metered link to
// compress that is not compressed already, and its exchange shares the slow
// line with IPCP), and an LCP restart timer of 1 s instead of 3 s: the first
// Configure-Request often reaches a network side still ending the last call
// and is lost, and the whole dial then waited 3 s for its retransmission.
// connect-delay 0: pppd given a connect option (the hold's, see Start), even
// an empty one, otherwise waits up to 1 s (its default) after the connect
// step for a frame from the peer before it sends its first LCP request, and
// a network that waits for the subscriber to speak first (as the bench's
// carrier does) then costs every dial that second. The modem's CONNECT
// already says the network's side is ready.
// The user's ppp.options come after these, so they can override them.
var fastNegotiation = []string{"novj", "noccp", "lcp-restart", "1", "connect-delay", "0"}

// Args returns pppd's argv (without the program name). No device name is
// given: pppd then uses its stdin, the tty the daemon dialled on, as its
// terminal (like wvdial). logfd 2 keeps pppd's log off the modem line (with
// nodetach it would otherwise log to stdout, which is the tty).
func Args(o Options) []string {
	a := []string{}
	if o.Baud > 0 {
		a = append(a, strconv.Itoa(o.Baud))
	}
	a = append(a, "nodetach", "logfd", "2", "noauth", "noipdefault", "nodefaultroute")
	a = append(a, fastNegotiation...)
	if o.Local {
		a = append(a, "local")
	} else {
		a = append(a, "modem")
	}
	if o.HardwareFlow {
		a = append(a, "crtscts")
	}
	a = append(a, "unit", strconv.Itoa(o.Unit))
	if o.Linkname != "" {
		a = append(a, "linkname", o.Linkname)
	}
	if o.LCPEchoInterval > 0 {
		a = append(a, "lcp-echo-interval", strconv.Itoa(o.LCPEchoInterval))
	}
	if o.LCPEchoFailure > 0 {
		a = append(a, "lcp-echo-failure", strconv.Itoa(o.LCPEchoFailure))
	}
	if o.PeerDNS {
		a = append(a, "usepeerdns")
	}
	if o.MTU > 0 {
		a = append(a, "mtu", strconv.Itoa(o.MTU))
	}
	if o.Debug {
		a = append(a, "debug")
	}
	for _, e := range o.Extra {
		if !forbidden[e] {
			a = append(a, e)
		}
	}
	return a
}

// Interface returns the network interface pppd creates for o: "ppp<unit>".
func Interface(o Options) string { return fmt.Sprintf("ppp%d", o.Unit) }

func (o Options) path() string {
	if o.Path == "" {
		return DefaultPath
	}
	return o.Path
}
