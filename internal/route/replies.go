package route

// Reply routing: connections that arrive on a link are answered through it.
//
// In replace mode the PPP link holds the only default route, so the reply to
// a Route 53 health check (or an SSH session) that reached eth0 through the
// main router would leave through ppp0 with eth0's source address and be
// lost. The firewall package gives each new connection a connection mark
// naming the interface it came in on, and copies that mark onto the packets
// of the reply direction (mangle PREROUTING for forwarded replies, OUTPUT for
// the Pi's own). This file is the routing half: for every marked link, policy
// rules that send packets carrying its mark to a routing table of failberry's
// own, which holds that link's default route.
//
// The rules, per marked link and address family, in priority order:
//
//	P:   fwmark MARK/MarkMask lookup main suppress_prefixlength 0
//	P+1: fwmark MARK/MarkMask lookup TABLE
//
// The first keeps every main-table route more specific than a default: a
// reply to a LAN host, or a LAN host's traffic forwarded through the Pi and
// marked on eth0, still goes straight to that host on its subnet; only what
// would have taken the main default route falls through to the link's table.
// Without it, the replies to a LAN host that had connected through eth0 would
// be sent to the main router instead.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Connection marks, shared with the firewall, which sets them (CONNMARK, by
// incoming interface, with this mask) and restores them onto reply packets.
//
// MarkMask takes bits 24 to 27 and nothing else, so every other bit of the
// 32-bit mark stays free for others: Tailscale uses 0x00ff0000, kube-proxy
// 0x0000c000, wg-quick's default fwmark is 0x0000ca6c, and Docker's ingress
// marks are small numbers. Four bits give 15 link slots (mark = slot<<24,
// slot 1..15); failberry uses two today and leaves room for more uplinks. The
// firewall must set and restore only these bits (--set-xmark MARK/MarkMask,
// --restore-mark --nfmask MarkMask --ctmask MarkMask), and restore them only
// onto the reply direction (-m conntrack --ctdir REPLY): the first packets of
// a LAN host's connection through the Pi come in on eth0 too, and with the
// mark they would be routed back to the main router instead of out to the
// internet.
const (
	MarkMask uint32 = 0x0f000000
	// MarkWired marks connections that came in on the wired (LAN) link.
	MarkWired uint32 = 0x01000000
	// MarkCellular marks connections that came in on the cellular link.
	MarkCellular uint32 = 0x02000000
	// MarkOutCellular marks connections that started by leaving over the
	// cellular link (gateway mode): failback removes exactly those from
	// conntrack. No rule routes by it.
	MarkOutCellular uint32 = 0x03000000
)

// Rule priorities and routing tables that failberry owns: every rule with a
// priority in [PriorityFirst, PriorityLast] and mask MarkMask, and every route
// in tables [TableFirst, TableLast], is failberry's, and only those are
// changed or deleted. Slot s (the mark's bits 24..27) has priorities
// PriorityFirst+2(s-1) and the one after it, and table TableFirst-1+s: the
// wired link's rules are 10300/10301 with table 10301, the cellular link's
// 10302/10303 with table 10302.
//
// Why these numbers: the kernel's own rules sit at 0 (local), 32766 (main)
// and 32767 (default), and ours must come before main to matter. Around them
// wg-quick uses 32764/32765, Tailscale 5210-5270, Cilium, Calico and
// strongSwan numbers below 250, so 10300-10329 collides with none of the
// usual ones. Tables 10301-10315 are above 255, so they are clear of main
// (254), local (255), default (253), unspec (0), the names in
// /etc/iproute2/rt_tables, Calico's default range 1-250 and Tailscale's 52,
// and below wg-quick's 51820.
const (
	PriorityFirst = 10300
	PriorityLast  = PriorityFirst + 2*maxSlot - 1
	TableFirst    = 10301
	TableLast     = TableFirst + maxSlot - 1
)

const maxSlot = int(MarkMask >> 24)

// Hop is how one uplink's default route leaves in one address family. The
// zero Hop means the uplink carries no replies in that family: no rule and no
// route for it.
type Hop struct {
	// Gateway is the next hop, such as the main router. An IPv6 gateway is
	// often link-local (fe80::1); its zone, when present, must name the
	// uplink, since the route is on that link anyway.
	Gateway netip.Addr
	// Direct asks for a device route without a gateway, for a point-to-point
	// link such as ppp0 whose peer is the other end of the wire.
	Direct bool
}

func (h Hop) set() bool { return h.Direct || h.Gateway.IsValid() }

// Uplink is one link whose connections' replies leave through it.
type Uplink struct {
	// Name is the interface, such as eth0 or ppp0.
	Name string
	// Mark is the connection mark the firewall gives connections arriving on
	// Name: MarkWired, MarkCellular, or another non-zero value within
	// MarkMask. It decides the uplink's priorities and table.
	Mark uint32
	// V4 and V6 are the uplink's default route in each family.
	V4, V6 Hop
}

// Policy is the reply routing the kernel should have. The zero Policy has no
// uplinks: applying it removes every rule and route of failberry's.
type Policy struct {
	Uplinks []Uplink
	// Steer is split mode's steering (see steer.go); the zero Steer adds
	// no rule.
	Steer Steer
}

// ErrPolicy is wrapped by Apply's errors for a policy that cannot be
// installed as written (a mark outside MarkMask, a gateway of the wrong
// family, ...): the caller's mistake, not the kernel's.
var ErrPolicy = errors.New("invalid reply routing policy")

// validate checks p without asking the kernel.
func (p Policy) validate() error {
	var errs []error
	seen := map[uint32]string{}
	names := map[string]bool{}
	for _, u := range p.Uplinks {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%w: uplink %q: %s", ErrPolicy, u.Name, fmt.Sprintf(format, args...)))
		}
		if u.Name == "" {
			bad("no interface name")
		}
		if names[u.Name] {
			bad("listed twice")
		}
		names[u.Name] = true
		if u.Mark == 0 || u.Mark&^MarkMask != 0 {
			bad("mark %#x is not a non-zero value within mask %#x", u.Mark, MarkMask)
		} else if other, dup := seen[u.Mark]; dup {
			bad("mark %#x is also %q's", u.Mark, other)
		}
		seen[u.Mark] = u.Name
		for _, f := range []struct {
			name string
			hop  Hop
			ok   func(netip.Addr) bool
		}{
			{"IPv4", u.V4, func(a netip.Addr) bool { return a.Is4() || a.Is4In6() }},
			{"IPv6", u.V6, func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }},
		} {
			h := f.hop
			switch {
			case h.Direct && h.Gateway.IsValid():
				bad("%s: both a gateway (%s) and a direct route", f.name, h.Gateway)
			case h.Gateway.IsValid() && !f.ok(h.Gateway):
				bad("%s gateway %s is of the other family", f.name, h.Gateway)
			case h.Gateway.IsValid() && (h.Gateway.IsUnspecified() || h.Gateway.IsMulticast()):
				bad("%s gateway %s is not a unicast address", f.name, h.Gateway)
			case h.Gateway.Zone() != "" && h.Gateway.Zone() != u.Name:
				bad("%s gateway %s is on another link than %s", f.name, h.Gateway, u.Name)
			}
		}
	}
	if err := p.Steer.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// slot is the link slot of a valid mark, 1..maxSlot.
func slot(mark uint32) int { return int(mark >> 24) }

func tableOf(mark uint32) int { return TableFirst - 1 + slot(mark) }

func priorityOf(mark uint32) int { return PriorityFirst + 2*(slot(mark)-1) }

// rulesFor are the two rules of one uplink in one family.
func rulesFor(family int, mark uint32) []netlink.Rule {
	mk := func(prio, table, suppress int) netlink.Rule {
		r := *netlink.NewRule()
		mask := MarkMask
		r.Family, r.Priority, r.Mark, r.Mask, r.Table, r.SuppressPrefixlen = family, prio, mark, &mask, table, suppress
		return r
	}
	p := priorityOf(mark)
	return []netlink.Rule{mk(p, unix.RT_TABLE_MAIN, 0), mk(p+1, tableOf(mark), -1)}
}

// routeFor is the default route of one uplink's table in one family.
func routeFor(family, index int, mark uint32, h Hop) netlink.Route {
	r := netlink.Route{
		LinkIndex: index, Dst: zeroNet(family), Table: tableOf(mark),
		Protocol: unix.RTPROT_STATIC, Type: unix.RTN_UNICAST, Family: family,
	}
	if family == netlink.FAMILY_V6 {
		r.Priority = 1024 // what the kernel turns metric 0 into; compare like with like
	}
	if h.Direct {
		if family == netlink.FAMILY_V4 {
			r.Scope = netlink.SCOPE_LINK
		}
	} else {
		r.Gw = net.IP(h.Gateway.WithZone("").Unmap().AsSlice())
	}
	return r
}

// ownRule reports whether a listed rule is failberry's.
func ownRule(r netlink.Rule) bool {
	return r.Priority >= PriorityFirst && r.Priority <= PriorityLast && r.Mask != nil && *r.Mask == MarkMask ||
		ownSteerRule(r)
}

func ownTable(t int) bool { return t >= TableFirst && t <= TableLast }

// sameRule compares a listed rule with a wanted one, selector by selector: a
// rule in our range that also matches on something else is not ours to keep.
func sameRule(got, want netlink.Rule) bool {
	sameMask := got.Mask == nil && want.Mask == nil || got.Mask != nil && want.Mask != nil && *got.Mask == *want.Mask
	return got.Family == want.Family && got.Priority == want.Priority && got.Table == want.Table &&
		got.Mark == want.Mark && sameMask &&
		got.SuppressPrefixlen == want.SuppressPrefixlen && got.SuppressIfgroup == -1 &&
		got.Src == nil && got.Dst == nil && got.IifName == want.IifName && got.OifName == want.OifName && !got.Invert &&
		got.Goto == -1 && got.Tos == 0 && got.IPProto == 0 && got.Dport == nil && got.Sport == nil &&
		got.UIDRange == nil && got.TunID == 0
}

// sameTableRoute compares a listed route in one of our tables with a wanted one.
func sameTableRoute(got, want netlink.Route) bool {
	return got.Table == want.Table && got.LinkIndex == want.LinkIndex && got.Gw.Equal(want.Gw) &&
		isDefault(got.Dst) && got.Priority == want.Priority && got.Type == want.Type &&
		got.Scope == want.Scope && len(got.MultiPath) == 0
}

// sameKey reports whether two routes of a table occupy the same slot, so a
// RouteReplace of one took the other's place.
func sameKey(a, b netlink.Route) bool {
	return a.Table == b.Table && a.Priority == b.Priority && a.Tos == b.Tos && isDefault(a.Dst) && isDefault(b.Dst)
}

// replyNetlink is what ReplyRoutes asks of the kernel. *netlink.Handle has
// it; tests wrap one to count the calls a converged Apply makes.
type replyNetlink interface {
	LinkByName(name string) (netlink.Link, error)
	RuleListFiltered(family int, filter *netlink.Rule, filterMask uint64) ([]netlink.Rule, error)
	RuleAdd(rule *netlink.Rule) error
	RuleDel(rule *netlink.Rule) error
	RouteListFiltered(family int, filter *netlink.Route, filterMask uint64) ([]netlink.Route, error)
	RouteReplace(route *netlink.Route) error
	RouteDel(route *netlink.Route) error
}

// ReplyRoutes owns failberry's policy rules and routing tables, so replies
// leave through the link their connection came in on. Apply converges the
// kernel onto a Policy and is meant to be called again on every tick (it
// puts back what was deleted behind its back); Remove takes everything of
// ours away. It keeps no state between calls: what is ours is found in the
// kernel by priority, mask and table, so a crash leaves nothing that the next
// Apply or Remove would not find. Methods are safe for concurrent use.
type ReplyRoutes struct {
	nl     replyNetlink
	logger *slog.Logger
	mu     sync.Mutex
}

// NewReplyRoutes returns a ReplyRoutes working through h (nil: the current
// network namespace). A nil logger discards.
func NewReplyRoutes(h *netlink.Handle, logger *slog.Logger) *ReplyRoutes {
	if h == nil {
		h = &netlink.Handle{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ReplyRoutes{nl: h, logger: logger}
}

// Apply converges the kernel's rules and failberry's tables onto p, IPv4 and
// IPv6: what is missing is added (a changed gateway replaced in place) before
// what is no longer wanted is deleted, so replies are never misrouted in
// between; duplicates are deleted; rules and routes of others are never
// touched. An uplink whose interface does not exist gets nothing and is
// reported with ErrLinkNotReady; the others are applied. When nothing has
// changed it reads one link per uplink, one rule dump and one route dump per
// family, and writes nothing.
func (r *ReplyRoutes) Apply(p Policy) error {
	if err := p.validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	want := map[int]*wanted{netlink.FAMILY_V4: {}, netlink.FAMILY_V6: {}}
	for _, u := range p.Uplinks {
		l, err := r.nl.LinkByName(u.Name)
		if err != nil {
			var notFound netlink.LinkNotFoundError
			if errors.As(err, &notFound) {
				err = ErrLinkNotReady
			}
			errs = append(errs, fmt.Errorf("reply routes via %s: %w", u.Name, err))
			continue
		}
		for family, h := range map[int]Hop{netlink.FAMILY_V4: u.V4, netlink.FAMILY_V6: u.V6} {
			if h.set() {
				want[family].rules = append(want[family].rules, rulesFor(family, u.Mark)...)
				want[family].routes = append(want[family].routes, routeFor(family, l.Attrs().Index, u.Mark, h))
			}
		}
	}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		want[family].rules = append(want[family].rules, steerRules(family, p.Steer)...)
		errs = append(errs, r.converge(family, want[family]))
	}
	return errors.Join(errs...)
}

type wanted struct {
	rules  []netlink.Rule
	routes []netlink.Route
}

// converge brings one family in line: table routes first, so a new rule
// finds its table filled (an empty one would only fall through to main);
// then rules; deletions last.
func (r *ReplyRoutes) converge(family int, w *wanted) error {
	fam := familyName(family)
	rules, routes, err := r.list(family)
	if err != nil {
		return err
	}
	var errs []error

	var staleRoutes []netlink.Route
	replaced := make([]bool, len(w.routes))
	found := make([]bool, len(w.routes))
	for _, got := range routes {
		i := slices.IndexFunc(w.routes, func(want netlink.Route) bool { return sameTableRoute(got, want) })
		if i < 0 || found[i] {
			staleRoutes = append(staleRoutes, got)
			continue
		}
		found[i] = true
	}
	for i := range w.routes {
		if found[i] {
			continue
		}
		if err := r.nl.RouteReplace(&w.routes[i]); err != nil {
			errs = append(errs, fmt.Errorf("reply routes: set %s: %w", describeRoute(w.routes[i]), err))
			continue
		}
		replaced[i] = true
		r.logger.Info("reply route set", "route", describeRoute(w.routes[i]), "family", fam)
	}

	var staleRules []netlink.Rule
	claimed := make([]bool, len(w.rules))
	for _, got := range rules {
		i := slices.IndexFunc(w.rules, func(want netlink.Rule) bool { return sameRule(got, want) })
		if i < 0 || claimed[i] { // not wanted, or a duplicate
			staleRules = append(staleRules, got)
			continue
		}
		claimed[i] = true
	}
	for i := range w.rules {
		if claimed[i] {
			continue
		}
		if err := r.nl.RuleAdd(&w.rules[i]); err != nil {
			errs = append(errs, fmt.Errorf("reply routes: add rule %s: %w", describeRule(w.rules[i]), err))
			continue
		}
		r.logger.Info("reply rule added", "rule", describeRule(w.rules[i]), "family", fam)
	}

	for _, got := range staleRules {
		if err := ignoreGone(r.nl.RuleDel(&got)); err != nil {
			errs = append(errs, fmt.Errorf("reply routes: delete rule %s: %w", describeRule(got), err))
			continue
		}
		r.logger.Info("reply rule deleted", "rule", describeRule(got), "family", fam)
	}
	for _, got := range staleRoutes {
		// A wanted route set with RouteReplace took this one's place already;
		// deleting it now could only hit the new one.
		tookPlace := false
		for i, want := range w.routes {
			tookPlace = tookPlace || (replaced[i] && sameKey(want, got))
		}
		if tookPlace {
			continue
		}
		if err := r.delRoute(got); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Remove deletes every rule and route of failberry's reply routing, IPv4 and
// IPv6, whoever added it (this process or one before a crash); rules first,
// so none points at a table being emptied. Removing nothing is not an error.
func (r *ReplyRoutes) Remove() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, routes, err := r.list(family)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, got := range rules {
			if err := ignoreGone(r.nl.RuleDel(&got)); err != nil {
				errs = append(errs, fmt.Errorf("reply routes: delete rule %s: %w", describeRule(got), err))
			}
		}
		for _, got := range routes {
			if err := r.delRoute(got); err != nil {
				errs = append(errs, err)
			}
		}
		if len(rules)+len(routes) > 0 {
			r.logger.Info("reply routing removed", "family", familyName(family), "rules", len(rules), "routes", len(routes))
		}
	}
	return errors.Join(errs...)
}

// list returns failberry's rules and the routes of its tables in one family:
// one rule dump and one route dump.
func (r *ReplyRoutes) list(family int) ([]netlink.Rule, []netlink.Route, error) {
	var all []netlink.Rule
	err := retryDump(func() (err error) { all, err = r.nl.RuleListFiltered(family, nil, 0); return err })
	if err != nil {
		return nil, nil, fmt.Errorf("reply routes: list %s rules: %w", familyName(family), err)
	}
	var rts []netlink.Route
	err = retryDump(func() (err error) {
		rts, err = r.nl.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reply routes: list %s routes: %w", familyName(family), err)
	}
	var rules []netlink.Rule
	for _, x := range all {
		if ownRule(x) {
			rules = append(rules, x)
		}
	}
	var routes []netlink.Route
	for _, x := range rts {
		if ownTable(x.Table) {
			routes = append(routes, x)
		}
	}
	return rules, routes, nil
}

func (r *ReplyRoutes) delRoute(got netlink.Route) error {
	c := cleanCopy(got)
	if err := ignoreGone(r.nl.RouteDel(&c)); err != nil {
		return fmt.Errorf("reply routes: delete %s: %w", describeRoute(got), err)
	}
	r.logger.Info("reply route deleted", "route", describeRoute(got), "family", familyName(got.Family))
	return nil
}

// describeRule writes a rule as `ip rule` shows it, for logs and errors.
func describeRule(r netlink.Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d: ", r.Priority)
	if r.IifName != "" {
		fmt.Fprintf(&b, "iif %s ", r.IifName)
	}
	if r.OifName != "" {
		fmt.Fprintf(&b, "oif %s ", r.OifName)
	}
	if r.Mask != nil {
		fmt.Fprintf(&b, "fwmark %#x/%#x ", r.Mark, *r.Mask)
	}
	switch r.Table {
	case unix.RT_TABLE_MAIN:
		b.WriteString("lookup main")
	default:
		fmt.Fprintf(&b, "lookup %d", r.Table)
	}
	if r.SuppressPrefixlen >= 0 {
		fmt.Fprintf(&b, " suppress_prefixlength %d", r.SuppressPrefixlen)
	}
	return b.String()
}

// describeRoute writes a route of our tables as `ip route` shows it.
func describeRoute(r netlink.Route) string {
	s := "default"
	if !isDefault(r.Dst) {
		s = r.Dst.String()
	}
	if r.Gw != nil {
		s += " via " + r.Gw.String()
	}
	return fmt.Sprintf("%s dev #%d table %d", s, r.LinkIndex, r.Table)
}
