package firewall

import (
	"fmt"
	"net/netip"
	"strings"
)

// Owned chain names.
const (
	chainInput       = ChainPrefix + "INPUT"
	chainOutput      = ChainPrefix + "OUTPUT"
	chainForward     = ChainPrefix + "FORWARD"
	chainPostrouting = ChainPrefix + "POSTROUTING"
	chainMSS         = ChainPrefix + "FORWARD" // in the mangle table
)

// icmpv6Link are the ICMPv6 types the WAN link needs whatever conntrack says:
// errors (1-4, for path MTU discovery above all) and router/neighbour
// discovery (133-136), which conntrack does not track.
var icmpv6Link = []int{1, 2, 3, 4, 133, 134, 135, 136}

// established is the conntrack match for replies and related ICMP errors.
const established = "-m conntrack --ctstate RELATED,ESTABLISHED"

// buildFamily writes the rules for one family, in the canonical text
// `iptables -S` prints, so Apply can compare the kernel's listing as text.
// Chains of features the policy does not use are not created, so a policy
// without forwards or marks gets exactly the rules it always had.
func buildFamily(p Policy, fws []forward, v6 bool) Rules {
	w := p.WAN
	var r Rules
	add := func(table, from, name string, rules []string) {
		r.Chains = append(r.Chains, Chain{Table: table, Name: name, Rules: rules})
		r.Jumps = append(r.Jumps, Jump{Table: table, From: from, To: name})
	}
	// The chains the input and forward chains jump to come first: a restore
	// script must create a chain before a rule names it.
	hjump, health := healthRules(p, w, v6)
	r.Chains = append(r.Chains, Chain{Table: tableFilter, Name: chainHealth, Rules: health},
		Chain{Table: tableFilter, Name: chainOwn})
	fwd := forwardRules(p, fws, w, v6)
	if p.Cap != CapOff {
		cjump, capped := capRules(p, w, v6)
		r.Chains = append(r.Chains, Chain{Table: tableFilter, Name: chainCap, Rules: capped})
		fwd = append([]string{cjump}, fwd...)
	}
	ownIn, ownOut := ownRules(w)
	add(tableFilter, "INPUT", chainInput, append([]string{ownIn, hjump}, inputRules(p, w, v6)...))
	add(tableFilter, "OUTPUT", chainOutput, append([]string{ownOut}, redirectRules(p, v6)...))
	add(tableFilter, "FORWARD", chainForward, fwd)
	if !v6 {
		if dnat := dnatRules(p, fws, w); len(dnat) > 0 {
			add(tableNAT, "PREROUTING", chainDNAT, dnat)
		}
	}
	post := natRules(p, w)
	if !v6 {
		post = append(post, snatRules(p, fws)...)
	}
	add(tableNAT, "POSTROUTING", chainPostrouting, post)
	if len(p.Marks) > 0 {
		pre, out := markRules(p)
		add(tableMangle, "PREROUTING", chainMarkIn, pre)
		add(tableMangle, "OUTPUT", chainMarkOut, out)
	}
	if len(p.OutMarks) > 0 {
		add(tableMangle, "POSTROUTING", chainMarkPost, outMarkRules(p))
	}
	if p.ClampMSS {
		clamp := "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"
		add(tableMangle, "FORWARD", chainMSS, []string{
			"-o " + w + " " + clamp,
			"-i " + w + " " + clamp,
		})
	}
	return r
}

// inputRules: on the WAN only replies and (optionally) echo come in (the
// health port is the health chain's, jumped to before these); everything else is dropped so a port scan gets no answer at all.
func inputRules(p Policy, w string, v6 bool) []string {
	in := "-i " + w + " "
	rules := []string{
		in + established + " -j ACCEPT",
	}
	if v6 {
		types := icmpv6Link
		if p.InboundICMP {
			types = append([]int{128}, types...)
		}
		for _, t := range types {
			rules = append(rules, fmt.Sprintf("%s-p ipv6-icmp -m icmp6 --icmpv6-type %d -j ACCEPT", in, t))
		}
	} else if p.InboundICMP {
		rules = append(rules, in+"-p icmp -m icmp --icmp-type 8 -j ACCEPT")
	}
	return append(rules, in+"-j DROP")
}

// forwardRules: replies both ways; nothing new from the WAN but the
// forwards; LAN to WAN for the allowed sources; anything else to the WAN
// rejected at once.
func forwardRules(p Policy, fws []forward, w string, v6 bool) []string {
	rules := []string{
		"-i " + w + " " + established + " -j ACCEPT",
		"-o " + w + " " + established + " -j ACCEPT",
	}
	rules = append(rules, forwardAccepts(p, fws, w, v6)...)
	rules = append(rules, "-i "+w+" -j DROP")
	sources := familySources(p.AllowSources, v6)
	for _, lan := range p.LAN {
		if len(p.AllowSources) == 0 {
			rules = append(rules, "-i "+lan+" -o "+w+" -j ACCEPT")
			continue
		}
		for _, s := range sources {
			rules = append(rules, "-s "+s.String()+" -i "+lan+" -o "+w+" -j ACCEPT")
		}
	}
	reject := "icmp-admin-prohibited"
	if v6 {
		reject = "icmp6-adm-prohibited"
	}
	return append(rules,
		"-o "+w+" -p tcp -j REJECT --reject-with tcp-reset",
		"-o "+w+" -j REJECT --reject-with "+reject,
	)
}

// familySources returns the masked, de-duplicated prefixes of one family in
// the input order (iptables prints prefixes masked).
func familySources(all []netip.Prefix, v6 bool) []netip.Prefix {
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for _, s := range all {
		s = s.Masked()
		if s.Addr().Is6() != v6 || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func natRules(p Policy, w string) []string {
	rules := []string{"-o " + w + " -j MASQUERADE"}
	for _, m := range p.MasqueradeOut {
		rules = append(rules, "-o "+m+" -j MASQUERADE")
	}
	return rules
}

// String renders the Ruleset like iptables-save (one block per family and
// table), for `failberry check` and for golden tests.
func (r Ruleset) String() string {
	var b strings.Builder
	r.V4.write(&b, "iptables")
	if !r.V6.Empty() {
		r.V6.write(&b, "ip6tables")
	}
	return b.String()
}

func (r Rules) write(b *strings.Builder, tool string) {
	fmt.Fprintf(b, "# %s\n", tool)
	for _, table := range managedTables {
		var chains []Chain
		var jumps []Jump
		for _, c := range r.Chains {
			if c.Table == table {
				chains = append(chains, c)
			}
		}
		for _, j := range r.Jumps {
			if j.Table == table {
				jumps = append(jumps, j)
			}
		}
		if len(chains) == 0 && len(jumps) == 0 {
			continue
		}
		fmt.Fprintf(b, "*%s\n", table)
		for _, c := range chains {
			fmt.Fprintf(b, ":%s - [0:0]\n", c.Name)
		}
		for _, j := range jumps {
			fmt.Fprintf(b, "-A %s %s\n", j.From, j.Spec()) // kept first in From
		}
		for _, c := range chains {
			for _, rule := range c.Rules {
				fmt.Fprintf(b, "-A %s %s\n", c.Name, rule)
			}
		}
		b.WriteString("COMMIT\n")
	}
}
