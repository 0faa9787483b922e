package firewall

// Gate is the closed firewall the daemon puts up first, so the dial does not
// wait for the whole policy: every packet in, out or through the policy's
// WAN interface is dropped, the health port's included, and nothing else is
// touched: only the filter table is converged (Rules.Tables), so on a restart
// the NAT and marks of a running policy stay while the gate is up. It is a Ruleset like any other, so Apply converges to it from
// whatever a crashed run left (each table block atomic, adding before
// deleting), and applying the full Ruleset after it rewrites the same three
// chains in the same atomic filter-table transaction: the WAN is closed at
// every step, first by the gate, then by the policy.
//
// The gate's own apply is small (one short restore per family, a fraction of
// the full set's cost on a Pi under the nft backend), so it is in place while
// the modem is still found and brought up; pppd starts once it is, and the
// full set is applied while PPP negotiates. Nothing on the link is reachable
// until then, which lasts about a second.
func Gate(p Policy) Ruleset {
	w := p.WAN
	if w == "" {
		w = DefaultWAN
	}
	family := func() Rules {
		r := Rules{Tables: []string{tableFilter}}
		for _, c := range []struct{ from, name string }{
			{"INPUT", chainInput}, {"OUTPUT", chainOutput}, {"FORWARD", chainForward},
		} {
			var rules []string
			if c.from != "OUTPUT" {
				rules = append(rules, "-i "+w+" -j DROP")
			}
			if c.from != "INPUT" {
				rules = append(rules, "-o "+w+" -j DROP")
			}
			r.Chains = append(r.Chains, Chain{Table: tableFilter, Name: c.name, Rules: rules})
			r.Jumps = append(r.Jumps, Jump{Table: tableFilter, From: c.from, To: c.name})
		}
		return r
	}
	rs := Ruleset{V4: family()}
	if p.IPv6 {
		rs.V6 = family()
	}
	return rs
}
