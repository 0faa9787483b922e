package firewall

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultMarkMask is the part of the 32-bit packet and connection mark that
// failberry owns when Policy.MarkMask is zero: bits 24-27, room for 15
// interface marks. Every CONNMARK rule failberry writes is masked with it, so
// the other bits stay with their owners. It is chosen clear of the marks a
// Pi like this one is likely to run beside: wg-quick's fwmark (51820,
// 0xca6c), kube-proxy (0x4000, 0x8000), mwan3 (0x3f00), Tailscale (mask
// 0xff0000) and firewalld/Docker, which use none. Calico's default mask
// (0xffff0000) overlaps it; set MarkMask when you run Calico.
const DefaultMarkMask uint32 = 0x0f000000

// InterfaceMark gives the connections that arrive on Interface a connection
// mark, so that their replies can be routed back out of the interface they
// came in on ("replies leave the way they came").
//
// The firewall only marks: the mark is set on the connection (CONNMARK) by
// its first packet in mangle PREROUTING, and copied onto every packet of the
// reply direction, in mangle PREROUTING for replies the Pi forwards and in
// mangle OUTPUT for the Pi's own replies. Original-direction packets never
// carry the mark, so a LAN host's new connection through the Pi is routed
// by the main table as before.
//
// Routing by the mark is the route side's job (internal/route), and it must
// match what is here, in both families:
//
//   - one rule per mark, "ip rule add fwmark Mark/MarkMask lookup T", with
//     the same Mark and mask (a bare "fwmark Mark" compares all 32 bits and
//     misses a packet that also carries another program's bits); T's
//     default route is the interface's gateway (the one replace mode
//     displaced, for the wired LAN) or the cellular link;
//   - before those, "ip rule add lookup main suppress_prefixlength 0" (as
//     wg-quick does): a reply to a host on a connected or specifically
//     routed network (a LAN host's traffic that left by the cellular link
//     came in on the LAN and is marked) follows the main table, only what
//     would take a default route follows the mark;
//   - IPv4 rp_filter loose (2) or off, since a health check that arrives
//     on eth0 from an internet address fails the strict check while the
//     cellular link owns the default route.
//
// TestSystemMarks installs exactly these rules and shows both directions.
type InterfaceMark struct {
	// Interface is an interface name or "+" pattern ("eth0", "ppp+").
	Interface string
	// Mark is the connection mark, non-zero and inside the policy's mask
	// (0x01000000, 0x02000000 ... with DefaultMarkMask).
	Mark uint32
}

// Forward sends connections that arrive on the cellular link (the WAN) for
// Proto and Ports to a LAN host: a DNAT on IPv4, a plain forwarding accept
// on IPv6, where the host has its own global address and nothing is
// translated.
type Forward struct {
	// Proto is "tcp" or "udp".
	Proto string `yaml:"proto" check:"tcp|udp"`
	// Ports is one port ("51820") or an inclusive range ("60000-60010").
	Ports string `yaml:"port"`
	// To is the LAN host. An IPv4 host is reached by DNAT of the Pi's WAN
	// address; an IPv6 host is reached at its own address.
	To netip.Addr `yaml:"to"`
	// ToPort, when not zero, is the host's port (for a range, the port the
	// first port of the range goes to; the others follow in step, so
	// "60000-60010" with ToPort 61000 sends 60005 to 61005). IPv4 only.
	ToPort int `yaml:"to_port,omitempty" check:"0..65535" hint:"use the LAN host's port (1..65535), or leave it out to keep the port"`
}

// String names the forward the way an error message should: "udp 51820 to
// 192.168.1.10".
func (f Forward) String() string {
	s := f.Proto + " " + f.Ports + " to " + f.To.String()
	if f.ToPort != 0 {
		s += " port " + strconv.Itoa(f.ToPort)
	}
	return s
}

// FieldError is a Build error about one field of the Policy, so the config
// layer can point at the key and line the value came from (Field "Forwards",
// Index 2: "firewall.forwards[2]"). Build wraps it with ErrInvalidPolicy.
type FieldError struct {
	// Field is the Policy field's name: "Marks", "MarkMask", "Forwards",
	// "DMZ", "DMZ6", "SNATForwards" or "LANNetworks".
	Field string
	// Index is the element of a list field, -1 for a single value.
	Index int
	// Err says what is wrong and what to do, without naming the field.
	Err error
}

func (e *FieldError) Error() string {
	if e.Index < 0 {
		return e.Field + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s[%d]: %v", e.Field, e.Index, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, index int, format string, args ...any) error {
	return &FieldError{Field: field, Index: index, Err: fmt.Errorf(format, args...)}
}

// portRange is an inclusive range of ports; a single port has lo == hi.
type portRange struct{ lo, hi int }

// parsePorts reads "51820" or "60000-60010".
func parsePorts(s string) (portRange, error) {
	los, his, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(los)
	hi, err2 := lo, error(nil)
	if isRange {
		hi, err2 = strconv.Atoi(his)
	}
	if s == "" || err1 != nil || err2 != nil || strings.ContainsAny(s, "+ ") {
		return portRange{}, fmt.Errorf("ports %q are not a port or a range; write 51820 or 60000-60010", s)
	}
	if lo < 1 || hi > 65535 || lo > 65535 || hi < 1 {
		return portRange{}, fmt.Errorf("ports %q are outside 1-65535", s)
	}
	if lo > hi {
		return portRange{}, fmt.Errorf("port range %q runs backwards; write it low-high (%d-%d)", s, hi, lo)
	}
	return portRange{lo, hi}, nil
}

func (r portRange) overlaps(o portRange) bool { return r.lo <= o.hi && o.lo <= r.hi }

func (r portRange) contains(port int) bool { return r.lo <= port && port <= r.hi }

// match is the iptables form: "51820" or "60000:60010".
func (r portRange) match() string {
	if r.lo == r.hi {
		return strconv.Itoa(r.lo)
	}
	return strconv.Itoa(r.lo) + ":" + strconv.Itoa(r.hi)
}

// forward is a validated Forward: the ports the WAN side sees and the ports
// the host listens on.
type forward struct {
	Forward
	ports, hostPorts portRange
}

// validateInbound checks the marks, forwards and DMZ hosts and returns the
// forwards parsed. Every error is a *FieldError.
func validateInbound(p Policy) ([]forward, error) {
	if err := validateOutMarks(p); err != nil {
		return nil, err
	}
	if err := validateMarks(p); err != nil {
		return nil, err
	}
	for i, n := range p.LANNetworks {
		if !n.IsValid() || n.Addr().Is4In6() || n.Addr().Zone() != "" {
			return nil, fieldErr("LANNetworks", i, "%q is not a plain IPv4 or IPv6 prefix", n)
		}
	}
	fws := make([]forward, 0, len(p.Forwards))
	for i, f := range p.Forwards {
		fw, err := validateForward(p, f)
		if err != nil {
			return nil, &FieldError{Field: "Forwards", Index: i, Err: err}
		}
		for j, prev := range fws {
			// IPv4 forwards all share the Pi's WAN address; IPv6 ones
			// collide only on the same host.
			if prev.Proto == f.Proto && prev.ports.overlaps(fw.ports) && (f.To.Is4() || prev.To == f.To) && prev.To.Is4() == f.To.Is4() {
				return nil, fieldErr("Forwards", i, "%s %s overlaps the earlier forward %s (entry %d): a port can go to one host only; remove one or split the ranges",
					f.Proto, f.Ports, prev.Forward, j)
			}
		}
		fws = append(fws, fw)
	}
	for _, d := range []struct {
		field string
		addr  netip.Addr
		v6    bool
	}{{"DMZ", p.DMZ, false}, {"DMZ6", p.DMZ6, true}} {
		if !d.addr.IsValid() {
			continue
		}
		if err := validateHost(p, d.addr, d.v6); err != nil {
			return nil, &FieldError{Field: d.field, Index: -1, Err: err}
		}
	}
	if p.SNATForwards && len(p.LAN) == 0 && (p.DMZ.IsValid() || hasV4(fws)) {
		return nil, fieldErr("SNATForwards", -1, "forwarded connections are masqueraded out of the LAN interfaces, and none is listed; list the LAN interface or turn SNAT of forwards off")
	}
	return fws, nil
}

func hasV4(fws []forward) bool {
	for _, f := range fws {
		if f.To.Is4() {
			return true
		}
	}
	return false
}

func validateForward(p Policy, f Forward) (forward, error) {
	if f.Proto != "tcp" && f.Proto != "udp" {
		return forward{}, fmt.Errorf("protocol %q is not tcp or udp", f.Proto)
	}
	ports, err := parsePorts(f.Ports)
	if err != nil {
		return forward{}, err
	}
	if !f.To.IsValid() {
		return forward{}, fmt.Errorf("no LAN host to forward to; set the host's address")
	}
	if err := validateHost(p, f.To, f.To.Is6()); err != nil {
		return forward{}, err
	}
	fw := forward{Forward: f, ports: ports, hostPorts: ports}
	if f.To.Is6() {
		if f.ToPort != 0 {
			return forward{}, fmt.Errorf("IPv6 forwards are not translated, so the port cannot change; drop the host port (%d) and have %s listen on %s", f.ToPort, f.To, f.Ports)
		}
		return fw, nil
	}
	if f.Proto == "tcp" && ports.contains(p.HealthPort) {
		return forward{}, fmt.Errorf("tcp %s includes the health port %d, which the Pi answers itself; forward other ports", f.Ports, p.HealthPort)
	}
	if f.ToPort != 0 {
		last := f.ToPort + ports.hi - ports.lo
		if f.ToPort < 1 || last > 65535 {
			return forward{}, fmt.Errorf("host port %d: the range %s would end at port %d, outside 1-65535", f.ToPort, f.Ports, last)
		}
		fw.hostPorts = portRange{f.ToPort, last}
	}
	return fw, nil
}

// validateHost checks a forward target or DMZ host: a unicast address of the
// expected family, inside a LAN network when those are known.
func validateHost(p Policy, a netip.Addr, v6 bool) error {
	switch {
	case a.Is4In6():
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address; write the IPv4 address %s", a, a.Unmap())
	case a.Zone() != "":
		return fmt.Errorf("%s has a zone; forward to a global or unique local address", a)
	case a.Is6() != v6 && v6:
		return fmt.Errorf("%s is IPv4; the IPv6 DMZ host must be IPv6 (put %s in the IPv4 DMZ)", a, a)
	case a.Is6() != v6:
		return fmt.Errorf("%s is IPv6; the IPv4 DMZ host must be IPv4 (put %s in the IPv6 DMZ)", a, a)
	case a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is not a LAN host's unicast address", a)
	case a.Is6() && !p.IPv6:
		return fmt.Errorf("%s is IPv6 but the firewall's IPv6 is off; turn IPv6 on or drop it", a)
	}
	var known []netip.Prefix
	for _, n := range p.LANNetworks {
		if n.Addr().Is6() == a.Is6() {
			if n.Contains(a) {
				return nil
			}
			known = append(known, n.Masked())
		}
	}
	if len(known) > 0 {
		return fmt.Errorf("%s is not on a LAN network (%v); use a LAN host's address", a, known)
	}
	return nil
}

func validateMarks(p Policy) error {
	mask := p.markMask()
	if p.MarkMask != 0 && len(p.Marks) == 0 {
		return fieldErr("MarkMask", -1, "%#x is set but no interface is marked; list the marks or drop the mask", p.MarkMask)
	}
	for i, m := range p.Marks {
		if err := ValidInterface(m.Interface); err != nil {
			return &FieldError{Field: "Marks", Index: i, Err: err}
		}
		if m.Mark == 0 || m.Mark&^mask != 0 {
			return fieldErr("Marks", i, "mark %#x of %s is not a non-zero value inside the mask %#x (try %#x)", m.Mark, m.Interface, mask, mask&-mask)
		}
		for j, prev := range p.Marks[:i] {
			if ifaceMatches(prev.Interface, m.Interface) || ifaceMatches(m.Interface, prev.Interface) {
				return fieldErr("Marks", i, "interface %s is already marked by the earlier mark of %s (entry %d); mark each interface once", m.Interface, prev.Interface, j)
			}
			if prev.Mark == m.Mark {
				return fieldErr("Marks", i, "mark %#x of %s is also the mark of %s (entry %d); give each interface its own mark, or replies of one go out of the other", m.Mark, m.Interface, prev.Interface, j)
			}
		}
	}
	return nil
}

func (p Policy) markMask() uint32 {
	if p.MarkMask == 0 {
		return DefaultMarkMask
	}
	return p.MarkMask
}

// Owned chains of the inbound path.
const (
	chainMarkIn  = ChainPrefix + "PREROUTING" // mangle: set and restore marks
	chainMarkOut = ChainPrefix + "OUTPUT"     // mangle: restore for the Pi's replies
	chainDNAT    = ChainPrefix + "PREROUTING" // nat: forwards and the DMZ
)

// markRules: a new connection takes the mark of the interface it arrived
// on; a packet of the reply direction takes its connection's mark. Only our
// bits are written (CONNMARK masks), and only connections we marked are
// restored, so a mark another program put on a packet stays.
func markRules(p Policy) (pre, out []string) {
	mask := p.markMask()
	for _, m := range p.Marks {
		pre = append(pre, fmt.Sprintf("-i %s -m conntrack --ctstate NEW -j CONNMARK --set-xmark %#x/%#x", m.Interface, m.Mark, mask))
	}
	restore := fmt.Sprintf("-m conntrack --ctdir REPLY -m connmark ! --mark 0x0/%#x -j CONNMARK --restore-mark --nfmask %#x --ctmask %#x", mask, mask, mask)
	return append(pre, restore), []string{restore}
}

// protoPorts is the match for a protocol and port range.
func protoPorts(proto string, r portRange) string {
	return "-p " + proto + " -m " + proto + " --dport " + r.match()
}

// dnatRules (IPv4): the listed forwards first, then the DMZ host for
// everything else except what the Pi answers itself (the health port, and
// echo requests when InboundICMP is on). Only a connection's first packet
// passes the nat table, so replies to the Pi's own connections are never
// sent to the DMZ host.
func dnatRules(p Policy, fws []forward, w string) []string {
	in := "-i " + w + " "
	var rules []string
	for _, f := range fws {
		if !f.To.Is4() {
			continue
		}
		to := f.To.String()
		switch {
		case f.hostPorts == f.ports:
		case f.ports.lo == f.ports.hi:
			to += ":" + strconv.Itoa(f.hostPorts.lo)
		default: // shifted: the offset from the first port is kept
			to += fmt.Sprintf(":%d-%d/%d", f.hostPorts.lo, f.hostPorts.hi, f.ports.lo)
		}
		rules = append(rules, in+protoPorts(f.Proto, f.ports)+" -j DNAT --to-destination "+to)
	}
	if p.DMZ.IsValid() {
		rules = append(rules, in+"-p tcp -m tcp --dport "+strconv.Itoa(p.HealthPort)+" -j RETURN")
		if p.InboundICMP {
			rules = append(rules, in+"-p icmp -m icmp --icmp-type 8 -j RETURN")
		}
		rules = append(rules, in+"-j DNAT --to-destination "+p.DMZ.String())
	}
	return rules
}

// forwardAccepts are the FORWARD rules that let the forwarded connections
// through, before the WAN's DROP. On IPv4 they also require that our DNAT
// made the connection (--ctstate DNAT), so a packet routed from the WAN
// straight to a LAN address still gets nothing.
func forwardAccepts(p Policy, fws []forward, w string, v6 bool) []string {
	in := " -i " + w + " "
	var rules []string
	for _, f := range fws {
		if f.To.Is6() != v6 {
			continue
		}
		if v6 {
			rules = append(rules, "-d "+f.To.String()+"/128"+in+protoPorts(f.Proto, f.ports)+" -j ACCEPT")
			continue
		}
		rules = append(rules, "-d "+f.To.String()+"/32"+in+protoPorts(f.Proto, f.hostPorts)+" -m conntrack --ctstate DNAT -j ACCEPT")
	}
	if v6 && p.DMZ6.IsValid() {
		rules = append(rules, "-d "+p.DMZ6.String()+"/128"+in+"-j ACCEPT")
	}
	if !v6 && p.DMZ.IsValid() {
		rules = append(rules, "-d "+p.DMZ.String()+"/32"+in+"-m conntrack --ctstate DNAT -j ACCEPT")
	}
	return rules
}

// snatRules (IPv4, SNATForwards): forwarded connections leave for the LAN
// host with the Pi's LAN address as their source, so the host answers the
// Pi even when its default route is the main router (which would send the
// answer out of the wired link, from an address the sender never talked
// to). Matching --ctstate DNAT and the exact host and ports limits it to
// the connections our DNAT made; the host then sees the Pi as the peer.
func snatRules(p Policy, fws []forward) []string {
	if !p.SNATForwards {
		return nil
	}
	var rules []string
	for _, lan := range p.LAN {
		out := " -o " + lan + " "
		for _, f := range fws {
			if f.To.Is4() {
				rules = append(rules, "-d "+f.To.String()+"/32"+out+protoPorts(f.Proto, f.hostPorts)+" -m conntrack --ctstate DNAT -j MASQUERADE")
			}
		}
		if p.DMZ.IsValid() {
			rules = append(rules, "-d "+p.DMZ.String()+"/32"+out+"-m conntrack --ctstate DNAT -j MASQUERADE")
		}
	}
	return rules
}
