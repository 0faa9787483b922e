package route

// Steering (split mode): the Pi's own traffic and the traffic it forwards
// leave by different links.
//
// In replace mode the cellular link holds the Pi's only default route, so
// every byte the Pi sends itself (package updates, NTP, a backup agent) goes
// over the metered SIM around the clock. In split mode failberry leaves the
// main table's default route (via the LAN's router) alone and sends only
// what it forwards for the LAN to the cellular link's table, the same table
// reply routing fills (TableFirst-1+slot(MarkCellular)). While the wired
// path fails, the Pi's own traffic follows. The rules, per family:
//
//	SteerPriority:   iif LAN lookup main suppress_prefixlength 0   (each LAN interface)
//	SteerPriority+1: iif LAN lookup CELLULAR
//	SteerPriority+2: oif CELL lookup CELLULAR   (sockets bound to the cellular link)
//	SteerPriority+3: lookup main suppress_prefixlength 0            (only while Own)
//	SteerPriority+4: lookup CELLULAR                                (only while Own)
//
// The suppress_prefixlength rules keep every main-table route more specific
// than a default (the LAN itself, a VPN's routes): only what would have taken
// the main default takes the cellular one. The oif rule is for failberry's
// own probes, bound to the cellular link with SO_BINDTODEVICE, which must
// find its route while the main default is wired. The reply rules
// (PriorityFirst..PriorityLast) come first, so a connection that came in on
// a link is still answered through it.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SteerPriority is the first of the steering rules' priorities; the five
// from it are failberry's when the rule has no fwmark. After the reply rules
// (so replies keep their link), before main (32766).
const SteerPriority = PriorityLast + 1

const steerLast = SteerPriority + 4

// Steer is split mode's routing. The zero Steer steers nothing (replace and
// metric mode).
type Steer struct {
	// Forward lists the LAN interfaces whose forwarded traffic leaves over
	// the cellular link. Exact names: a policy rule matches no wildcard.
	Forward []string
	// Cellular is the cellular link's interface (ppp0), whose bound sockets
	// use its table.
	Cellular string
	// Own sends the Pi's own traffic over cellular too: set while the wired
	// path fails.
	Own bool
}

// set: a Steer with only Cellular (gateway mode while the primary works)
// still needs the rule of the sockets bound to the cellular link.
func (s Steer) set() bool { return len(s.Forward) > 0 || s.Own || s.Cellular != "" }

// Validate reports steering the kernel cannot express (a wildcard LAN
// name: a policy rule matches exact names only). The config check and Apply
// both ask it.
func (s Steer) Validate() error {
	var errs []string
	if s.set() && s.Cellular == "" {
		errs = append(errs, "no cellular interface")
	}
	for i, n := range s.Forward {
		switch {
		case n == "":
			errs = append(errs, "an empty LAN interface name")
		case strings.ContainsAny(n, "+*"):
			errs = append(errs, fmt.Sprintf("LAN interface %q is a wildcard; a policy rule needs the exact name", n))
		case slices.Contains(s.Forward[:i], n):
			errs = append(errs, fmt.Sprintf("LAN interface %q listed twice", n))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: steering: %s", ErrPolicy, strings.Join(errs, "; "))
	}
	return nil
}

// steerRules are the steering rules of one family.
func steerRules(family int, s Steer) []netlink.Rule {
	if !s.set() {
		return nil
	}
	cell := tableOf(MarkCellular)
	mk := func(prio, table, suppress int, iif, oif string) netlink.Rule {
		r := *netlink.NewRule()
		r.Family, r.Priority, r.Table, r.SuppressPrefixlen, r.IifName, r.OifName = family, prio, table, suppress, iif, oif
		return r
	}
	var rs []netlink.Rule
	for _, n := range s.Forward {
		rs = append(rs, mk(SteerPriority, unix.RT_TABLE_MAIN, 0, n, ""), mk(SteerPriority+1, cell, -1, n, ""))
	}
	rs = append(rs, mk(SteerPriority+2, cell, -1, "", s.Cellular))
	if s.Own {
		rs = append(rs, mk(SteerPriority+3, unix.RT_TABLE_MAIN, 0, "", ""), mk(SteerPriority+4, cell, -1, "", ""))
	}
	return rs
}

func ownSteerRule(r netlink.Rule) bool {
	return r.Priority >= SteerPriority && r.Priority <= steerLast && r.Mask == nil && r.Mark == 0
}
