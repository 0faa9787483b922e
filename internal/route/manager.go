package route

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Mode says how the PPP default route coexists with the one the host had.
type Mode string

const (
	// ModeReplace makes the PPP link the only default route, as pppd's
	// replacedefaultroute did; the defaults it displaced (say via eth0 from
	// DHCP) are remembered and put back by Withdraw.
	ModeReplace Mode = "replace"
	// ModeMetric adds the PPP default with the configured metric and leaves
	// the others alone: the lowest metric wins.
	ModeMetric Mode = "metric"
	// ModeSplit leaves the main table to the host: its default route (via
	// the LAN's router) keeps carrying the Pi's own traffic, and only what
	// the Pi forwards takes the cellular link, through the policy rules of
	// Steer and the cellular link's own table. The Manager adds nothing.
	ModeSplit Mode = "split"
	// ModeGateway is split's routing with the failover decided per host on
	// the Pi: forwarded traffic too leaves through the main table (the
	// primary) until the primary fails. The Manager adds nothing either.
	ModeGateway Mode = "gateway"
)

// Steered says whether the mode routes by Steer's policy rules and leaves
// the main table alone.
func (m Mode) Steered() bool { return m == ModeSplit || m == ModeGateway }

// ErrLinkNotReady is returned by Apply for a link that does not exist, is
// down or has no IPv4 address yet: callers wait for the next link event.
var ErrLinkNotReady = errors.New("link not ready for a default route")

// ErrMetricInUse is returned in metric mode when a default route on another
// interface already has the configured metric: adding ours would replace it.
var ErrMetricInUse = errors.New("another default route has the same metric")

// Manager owns the default route through one PPP link. Apply is safe to
// repeat; Withdraw undoes it. Methods are safe for concurrent use.
type Manager struct {
	h      *netlink.Handle
	mode   Mode
	metric int
	logger *slog.Logger

	mu    sync.Mutex
	link  Link            // link our routes are on; Index 0: none installed
	saved []netlink.Route // defaults displaced in replace mode
}

// NewManager returns a Manager working through h (nil: the current network
// namespace). An unknown mode is treated as ModeReplace, the behaviour users
// of replacedefaultroute expect. A nil logger discards.
func NewManager(h *netlink.Handle, mode Mode, metric int, logger *slog.Logger) *Manager {
	if h == nil {
		h = &netlink.Handle{}
	}
	if mode != ModeMetric && !mode.Steered() {
		mode = ModeReplace
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{h: h, mode: mode, metric: metric, logger: logger}
}

// Apply converges the default routes onto l: an IPv4 device route (scope
// link, preferred source l.Local: the link is point-to-point, so no gateway),
// or one via l.Gateway when it is set (a network card), and, when l has a
// global IPv6 address and no Gateway, an IPv6 one. Calling it again with
// the same link changes nothing; a route deleted behind our back comes back.
func (m *Manager) Apply(l Link) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !l.Ready() {
		return fmt.Errorf("default route via %s: %w", l.Name, ErrLinkNotReady)
	}
	if m.mode.Steered() {
		return nil
	}
	var errs []error
	if m.link.Index != 0 && m.link.Index != l.Index { // pppd came back as a new link
		errs = append(errs, m.delOurs(netlink.FAMILY_V4, m.link.Index), m.delOurs(netlink.FAMILY_V6, m.link.Index))
	}
	m.link = l
	errs = append(errs, m.apply(netlink.FAMILY_V4, l))
	switch {
	case l.Gateway.IsValid():
		// An Ethernet link's IPv6 default is the kernel's, from the
		// stick's router advertisements (accept_ra 2): left alone.
	case len(l.Local6) > 0:
		errs = append(errs, m.apply(netlink.FAMILY_V6, l))
	default:
		errs = append(errs, m.delOurs(netlink.FAMILY_V6, l.Index))
	}
	return errors.Join(errs...)
}

// apply converges one address family.
func (m *Manager) apply(family int, l Link) error {
	defaults, err := m.defaults(family)
	if err != nil {
		return err
	}
	want := m.ours(family, l)
	for _, r := range defaults {
		if r.LinkIndex == l.Index {
			continue
		}
		if m.mode == ModeMetric && r.Priority == want.Priority {
			return fmt.Errorf("default route via %s metric %d: %w (%s)", l.Name, m.metric, ErrMetricInUse, r)
		}
		if m.mode == ModeReplace && !slices.ContainsFunc(m.saved, func(s netlink.Route) bool { return sameRoute(s, r) }) {
			m.saved = append(m.saved, r)
			m.logger.Info("replacing default route", "route", r.String(), "via", l.Name)
		}
	}
	if !slices.ContainsFunc(defaults, func(r netlink.Route) bool { return isOurs(r, want) }) {
		if err := m.h.RouteReplace(&want); err != nil {
			return fmt.Errorf("set default route via %s: %w", l.Name, err)
		}
		m.logger.Info("default route set", "via", l.Name, "family", familyName(family), "metric", m.metric)
	}
	if m.mode != ModeReplace {
		return nil
	}
	// Add before delete: ours is in place before the old ones go.
	var errs []error
	for _, r := range defaults {
		if r.LinkIndex != l.Index {
			errs = append(errs, ignoreGone(m.h.RouteDel(&r)))
		}
	}
	return errors.Join(errs...)
}

// Withdraw removes our default routes; in replace mode it first puts back the
// defaults Apply displaced, so the host is never without a route in between.
// A remembered route whose interface has gone is reported and forgotten.
func (m *Manager) Withdraw() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, r := range m.saved {
		c := cleanCopy(r)
		if err := m.h.RouteReplace(&c); err != nil {
			errs = append(errs, fmt.Errorf("restore default route %s: %w", r, err))
			continue
		}
		m.logger.Info("default route restored", "route", r.String())
	}
	m.saved = nil
	if m.link.Index != 0 {
		errs = append(errs, m.delOurs(netlink.FAMILY_V4, m.link.Index))
		if !m.link.Gateway.IsValid() { // a network card's IPv6 default is the kernel's
			errs = append(errs, m.delOurs(netlink.FAMILY_V6, m.link.Index))
		}
		m.logger.Info("default route withdrawn", "via", m.link.Name)
	}
	m.link = Link{}
	return errors.Join(errs...)
}

// Gateways returns how the default routes of the named link (the wired one,
// eth0) leave, for reply routing through that link (Uplink.V4 and V6): the
// main table's defaults on it when it has them (metric mode, or before the
// PPP link came up; the lowest metric wins), else the latest ones replace
// mode displaced from it and keeps to put back. A family with neither gives
// the zero Hop; an IPv6 link-local gateway carries the link's name as its
// zone. It reads the link and one route dump per family.
func (m *Manager) Gateways(name string) (v4, v6 Hop, err error) {
	nl, err := m.h.LinkByName(name)
	if err != nil {
		return Hop{}, Hop{}, fmt.Errorf("gateways of %s: %w", name, err)
	}
	index := nl.Attrs().Index
	m.mu.Lock()
	defer m.mu.Unlock()
	hops := [2]Hop{}
	for i, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		defaults, err := m.defaults(family)
		if err != nil {
			return Hop{}, Hop{}, fmt.Errorf("gateways of %s: %w", name, err)
		}
		best := -1
		for j, r := range defaults {
			if h := hopOf(r, index, name); h.set() && (best < 0 || r.Priority < defaults[best].Priority) {
				best, hops[i] = j, h
			}
		}
		if best >= 0 {
			continue
		}
		for _, r := range slices.Backward(m.saved) {
			if h := hopOf(r, index, name); h.set() && r.Family == family {
				hops[i] = h
				break
			}
		}
	}
	return hops[0], hops[1], nil
}

// hopOf is how route r leaves through link index (named name); the zero Hop
// when it does not.
func hopOf(r netlink.Route, index int, name string) Hop {
	gw := r.Gw
	switch {
	case len(r.MultiPath) > 0:
		gw = nil
		for _, nh := range r.MultiPath {
			if nh.LinkIndex == index && nh.Gw != nil {
				gw = nh.Gw
				break
			}
		}
		if gw == nil {
			return Hop{}
		}
	case r.LinkIndex != index:
		return Hop{}
	case gw == nil:
		return Hop{Direct: true}
	}
	a, ok := netip.AddrFromSlice(gw)
	if !ok {
		return Hop{}
	}
	a = a.Unmap()
	if a.Is6() && a.IsLinkLocalUnicast() {
		a = a.WithZone(name)
	}
	return Hop{Gateway: a}
}

// ours is the default route we want on l.
func (m *Manager) ours(family int, l Link) netlink.Route {
	r := netlink.Route{
		LinkIndex: l.Index, Dst: zeroNet(family), Priority: m.metricFor(family),
		Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_STATIC, Type: unix.RTN_UNICAST,
	}
	if family == netlink.FAMILY_V4 {
		r.Scope = netlink.SCOPE_LINK
		r.Src = net.IP(l.Local.AsSlice())
		if l.Gateway.Is4() {
			r.Scope, r.Gw = netlink.SCOPE_UNIVERSE, net.IP(l.Gateway.AsSlice())
		}
	}
	return r
}

// metricFor is the metric the kernel will give our route: IPv6 turns 0 into
// 1024 (IP6_RT_PRIO_USER), and comparisons must use the same number.
func (m *Manager) metricFor(family int) int {
	if family == netlink.FAMILY_V6 && m.metric == 0 {
		return 1024
	}
	return m.metric
}

// defaults lists the default routes of the main table.
func (m *Manager) defaults(family int) ([]netlink.Route, error) {
	var rs []netlink.Route
	err := retryDump(func() (err error) {
		rs, err = m.h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s routes: %w", familyName(family), err)
	}
	var out []netlink.Route
	for _, r := range rs {
		if isDefault(r.Dst) && r.Type == unix.RTN_UNICAST {
			out = append(out, r)
		}
	}
	return out, nil
}

// delOurs deletes the default routes on link index.
func (m *Manager) delOurs(family, index int) error {
	rs, err := m.defaults(family)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		if r.LinkIndex == index {
			errs = append(errs, ignoreGone(m.h.RouteDel(&r)))
		}
	}
	return errors.Join(errs...)
}

func isDefault(d *net.IPNet) bool {
	if d == nil {
		return true
	}
	ones, _ := d.Mask.Size()
	return ones == 0 && d.IP.IsUnspecified()
}

func isOurs(r, want netlink.Route) bool {
	return r.LinkIndex == want.LinkIndex && r.Priority == want.Priority && r.Scope == want.Scope &&
		r.Src.Equal(want.Src) && r.Gw.Equal(want.Gw) && len(r.MultiPath) == 0
}

func sameRoute(a, b netlink.Route) bool {
	return a.LinkIndex == b.LinkIndex && a.Priority == b.Priority && a.Gw.Equal(b.Gw) && a.Table == b.Table && a.Family == b.Family
}

// cleanCopy keeps what identifies a listed route, so it can be added again.
func cleanCopy(r netlink.Route) netlink.Route {
	return netlink.Route{
		LinkIndex: r.LinkIndex, Dst: r.Dst, Gw: r.Gw, Src: r.Src, Priority: r.Priority,
		Scope: r.Scope, Protocol: r.Protocol, Table: r.Table, Type: r.Type, Family: r.Family,
		MultiPath: r.MultiPath, Flags: r.Flags &^ (unix.RTNH_F_DEAD | unix.RTNH_F_LINKDOWN),
	}
}

func zeroNet(family int) *net.IPNet {
	if family == netlink.FAMILY_V6 {
		return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
}

func ignoreGone(err error) error {
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

func familyName(f int) string {
	if f == netlink.FAMILY_V6 {
		return "IPv6"
	}
	return "IPv4"
}
