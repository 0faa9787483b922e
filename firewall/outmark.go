package firewall

// Gateway mode's part of the firewall: marking the connections that leave
// by the cellular link, so that failback can remove exactly those from
// conntrack, and keeping the Pi from sending redirects where the primary
// router shares the LAN.

import "fmt"

// chainMarkPost is the mangle POSTROUTING chain of OutMarks.
const chainMarkPost = ChainPrefix + "POSTROUTING"

// outMarkRules: a connection's first packet out of the interface sets the
// mark. Only a connection that starts on this side leaves the interface in
// state NEW: one that came in on it (an inbound VPN session, a health check)
// keeps its own mark, so failback leaves it alone. A LAN host's connection
// already carries the mark of the LAN interface it came in on when that is
// the wired one; it is overwritten, which routes its replies no differently
// (they go to a connected network, and the reply rules send those to the
// main table whatever the mark).
func outMarkRules(p Policy) []string {
	mask := p.markMask()
	var rules []string
	for _, m := range p.OutMarks {
		rules = append(rules, fmt.Sprintf("-o %s -m conntrack --ctstate NEW -j CONNMARK --set-xmark %#x/%#x", m.Interface, m.Mark, mask))
	}
	return rules
}

// redirectRules drop the redirects the kernel would send out of the
// NoRedirects interfaces. A rule, not the send_redirects sysctl: it is
// described, applied and removed with the rest of the policy, and IPv6 has
// no such sysctl.
func redirectRules(p Policy, v6 bool) []string {
	var rules []string
	for _, i := range p.NoRedirects {
		if v6 {
			rules = append(rules, "-o "+i+" -p ipv6-icmp -m icmp6 --icmpv6-type 137 -j DROP")
		} else {
			rules = append(rules, "-o "+i+" -p icmp -m icmp --icmp-type 5 -j DROP")
		}
	}
	return rules
}

func validateOutMarks(p Policy) error {
	mask := p.markMask()
	if p.MarkMask != 0 && len(p.Marks) == 0 && len(p.OutMarks) > 0 {
		return fieldErr("MarkMask", -1, "%#x is set but no interface is marked; list the marks or drop the mask", p.MarkMask)
	}
	for i, m := range p.OutMarks {
		if err := ValidInterface(m.Interface); err != nil {
			return &FieldError{Field: "OutMarks", Index: i, Err: err}
		}
		if m.Mark == 0 || m.Mark&^mask != 0 {
			return fieldErr("OutMarks", i, "mark %#x of %s is not a non-zero value inside the mask %#x", m.Mark, m.Interface, mask)
		}
		for _, in := range p.Marks {
			if in.Mark == m.Mark {
				return fieldErr("OutMarks", i, "mark %#x of connections out of %s is also the mark of connections in on %s; give it its own", m.Mark, m.Interface, in.Interface)
			}
		}
	}
	for i, n := range p.NoRedirects {
		if err := ValidInterface(n); err != nil {
			return &FieldError{Field: "NoRedirects", Index: i, Err: err}
		}
	}
	return nil
}
