package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ErrInvalidPolicy is wrapped by every error Build returns for a Policy that
// cannot be turned into rules; the daemon refuses to start on it rather than
// run with a half-understood firewall.
var ErrInvalidPolicy = errors.New("invalid firewall policy")

// DefaultWAN matches every pppd interface (ppp0, ppp1 ...): pppd picks the
// unit number, so the rules must not depend on it.
const DefaultWAN = "ppp+"

// Policy describes what the firewall must allow. The zero value is not
// usable: HealthPort is required, because a WAN that drops everything would
// also make the Route 53 health check fail.
type Policy struct {
	// WAN is the cellular interface pattern ("+" suffix is a wildcard); empty
	// means DefaultWAN.
	WAN string
	// LAN lists the LAN-side interfaces whose traffic is forwarded to the WAN.
	LAN []string
	// MasqueradeOut lists extra interfaces to masquerade out of (the original
	// setup also masquerades out of eth0).
	MasqueradeOut []string
	// AllowSources, when not empty, limits the LAN sources that may use the
	// metered cellular link. Other sources are rejected at once (tcp-reset or
	// icmp admin-prohibited) so devices give up fast instead of retrying.
	// Prefixes of one family only restrict that family: an allowlist with
	// only IPv4 prefixes rejects all forwarded IPv6.
	AllowSources []netip.Prefix
	// HealthPort is the TCP port accepted inbound on the WAN (9000).
	HealthPort int
	// InboundICMP accepts ICMP/ICMPv6 echo requests inbound on the WAN.
	InboundICMP bool
	// IPv6 applies the same policy with ip6tables; the ICMPv6 the link needs
	// (neighbour and router discovery, errors) is always accepted.
	IPv6 bool
	// ClampMSS clamps the MSS of forwarded TCP SYNs to the path MTU, for
	// carriers whose MTU is below 1500 and who drop ICMP "too big".
	ClampMSS bool

	// Marks gives connections a mark by the interface they arrived on, for
	// routing their replies back out of it (see InterfaceMark); typically
	// the wired LAN interface and the WAN. Empty: no marks, no mangle
	// PREROUTING/OUTPUT chains.
	Marks []InterfaceMark
	// MarkMask is the part of the mark failberry's marks live in; zero
	// means DefaultMarkMask. The route side must match Mark/MarkMask.
	MarkMask uint32
	// OutMarks gives connections that start by leaving through an interface
	// a mark of their own (see outMarkRules): gateway mode finds exactly the
	// connections that went out over cellular by it.
	OutMarks []InterfaceMark
	// NoRedirects are interfaces out of which the Pi sends no ICMP or
	// ICMPv6 redirect: where the primary router is on the LAN itself,
	// forwarding a LAN host's packet to it out of the interface it came in
	// on would otherwise teach the host to bypass the Pi.
	NoRedirects []string

	// Forwards are the ports forwarded from the WAN to LAN hosts. Explicit
	// forwards win over the DMZ host.
	Forwards []Forward
	// DMZ, when valid, is the IPv4 LAN host that receives everything that
	// arrives on the WAN and is neither a reply, a forward, the health port
	// nor (with InboundICMP) an echo request, like a cellular router's
	// "DMZ" or "forward all" mode. Without InboundICMP, echo requests go to
	// the DMZ host too.
	DMZ netip.Addr
	// DMZ6, when valid, is an IPv6 LAN host to which every connection from
	// the WAN is accepted (no NAT: it is reached at its own address).
	DMZ6 netip.Addr
	// SNATForwards masquerades forwarded IPv4 connections (forwards and the
	// DMZ) to the Pi's LAN address as they leave for the LAN host. The
	// config default is on: the LAN host's default route usually points at
	// the main router, which would send the replies out of the wired link,
	// from the wired address, where the sender drops them. The cost is that
	// the host sees the Pi, not the real peer, as the source; turn it off
	// only when the forwarded hosts route through the Pi.
	SNATForwards bool
	// LANNetworks, when not empty, are the LAN's networks: forward targets
	// and DMZ hosts of a family that has one must be inside one, which
	// catches a typo that would forward to the internet. Empty: not checked.
	LANNetworks []netip.Prefix

	// HealthAllowFrom, when not empty, are the only sources that may reach
	// the health port over the WAN (Route 53's checkers' published ranges):
	// scanners cost metered bytes too. Prefixes of one family only restrict
	// that family; a family without any is shut out of the port.
	HealthAllowFrom []netip.Prefix
	// Cap is the monthly cap's action on forwarding out by the WAN (see
	// CapAction); CapAllow are the LAN sources CapAllowlist lets through.
	Cap      CapAction
	CapAllow []netip.Prefix
}

// Table names and the chains we own. Owned chains carry ChainPrefix so that
// Cleanup can find everything a crashed run left behind.
const (
	ChainPrefix = "FAILBERRY-"
	tableFilter = "filter"
	tableNAT    = "nat"
	tableMangle = "mangle"
)

// managedTables are the tables Apply and Cleanup look at, in order.
var managedTables = []string{tableFilter, tableNAT, tableMangle}

// Chain is an owned chain and its rules, each rule an iptables rule spec in
// the canonical form `iptables -S` prints (without "-A CHAIN"), so the kernel
// state can be compared with it as text.
type Chain struct {
	Table string
	Name  string
	Rules []string
}

// Jump is the single rule at the top of a built-in chain that sends all its
// packets through an owned chain.
type Jump struct {
	Table string
	From  string
	To    string
}

// Spec is the jump's rule spec.
func (j Jump) Spec() string { return "-j " + j.To }

// Rules is the described state of one address family.
type Rules struct {
	Chains []Chain
	Jumps  []Jump
	// Tables are the tables Apply converges to these rules; the others are
	// left as they are. Nil: every managed table (owned chains the rules do
	// not describe are removed from each). The closed gate (Gate) names only
	// the filter table, so a restart's gate does not drop the NAT and marks
	// a running policy has for the other uplinks while it closes the WAN.
	Tables []string
}

// manages reports whether Apply converges table for r.
func (r Rules) manages(table string) bool { return r.Tables == nil || slices.Contains(r.Tables, table) }

// Empty reports whether the family has nothing to install (IPv6 off).
func (r Rules) Empty() bool { return len(r.Chains) == 0 && len(r.Jumps) == 0 }

// Ruleset is the whole described state; V6 is empty when IPv6 is off, and
// Apply then removes any owned IPv6 chains left by an earlier configuration.
type Ruleset struct {
	V4 Rules
	V6 Rules
}

// Build turns a Policy into the Ruleset to apply. It does not touch the
// system; every error wraps ErrInvalidPolicy.
func Build(p Policy) (Ruleset, error) {
	if p.WAN == "" {
		p.WAN = DefaultWAN
	}
	if err := validate(p); err != nil {
		return Ruleset{}, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	fws, err := validateInbound(p)
	if err != nil {
		return Ruleset{}, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	rs := Ruleset{V4: buildFamily(p, fws, false)}
	if p.IPv6 {
		rs.V6 = buildFamily(p, fws, true)
	}
	return rs, nil
}

func validate(p Policy) error {
	if err := ValidInterface(p.WAN); err != nil {
		return fmt.Errorf("WAN: %w", err)
	}
	if p.HealthPort < 1 || p.HealthPort > 65535 {
		return fmt.Errorf("health port %d out of range 1-65535", p.HealthPort)
	}
	seen := map[string]bool{}
	for _, l := range p.LAN {
		if err := ValidInterface(l); err != nil {
			return fmt.Errorf("LAN: %w", err)
		}
		if l == p.WAN || ifaceMatches(p.WAN, l) {
			return fmt.Errorf("LAN interface %q is also the WAN %q", l, p.WAN)
		}
		if seen[l] {
			return fmt.Errorf("LAN interface %q listed twice", l)
		}
		seen[l] = true
	}
	seenOut := map[string]bool{}
	for _, m := range p.MasqueradeOut {
		if err := ValidInterface(m); err != nil {
			return fmt.Errorf("masquerade: %w", err)
		}
		if m == p.WAN || seenOut[m] {
			return fmt.Errorf("masquerade interface %q listed twice", m)
		}
		seenOut[m] = true
	}
	if err := validateMetered(p); err != nil {
		return err
	}
	for _, s := range p.AllowSources {
		if !s.IsValid() {
			return fmt.Errorf("allowed source %q is not a valid prefix", s)
		}
		if s.Addr().Is4In6() || s.Addr().Zone() != "" {
			return fmt.Errorf("allowed source %s: use a plain IPv4 or IPv6 prefix", s)
		}
	}
	return nil
}

// ValidInterface checks an interface name or "+" pattern the way the kernel
// (dev_valid_name) and iptables do: 1-15 bytes, no whitespace, '/' or ':',
// not "." or "..", '+' only at the end. The config check uses it too.
func ValidInterface(name string) error {
	if name == "" || len(name) > 15 {
		return fmt.Errorf("interface name %q must be 1-15 characters", name)
	}
	if strings.ContainsAny(name, " \t\n\x00/:!\"'\\") || strings.Contains(strings.TrimSuffix(name, "+"), "+") {
		return fmt.Errorf("interface name %q has invalid characters", name)
	}
	if name == "+" {
		return fmt.Errorf("interface pattern %q matches every interface", name)
	}
	if base := strings.TrimSuffix(name, "+"); base == "." || base == ".." {
		return fmt.Errorf("interface name %q is reserved", name)
	}
	return nil
}

// ifaceMatches reports whether pattern (iptables "+" wildcard) matches name.
func ifaceMatches(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "+"); ok {
		return strings.HasPrefix(strings.TrimSuffix(name, "+"), p)
	}
	return pattern == name
}
