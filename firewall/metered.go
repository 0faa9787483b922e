package firewall

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The metered link's chains: FAILBERRY-HEALTH, which every packet to the
// health port over the WAN passes (its jump's counter is the cost of being
// checked, and it holds health.allow_from); FAILBERRY-OWN, an empty chain
// that everything the Pi itself receives or sends over the WAN passes (its
// jumps' counters are the Pi's own share of the link, the rest was
// forwarded); and FAILBERRY-CAP, which the forward chain sends everything
// leaving by the WAN through (the monthly cap's action).
const (
	chainHealth = ChainPrefix + "HEALTH"
	chainOwn    = ChainPrefix + "OWN"
	chainCap    = ChainPrefix + "CAP"
)

// CapAction is the cap's state in the firewall.
type CapAction int

// The cap's states. CapOff builds no cap chain at all (no cap configured);
// CapOpen an empty one (under the cap, or the action only warns), so
// reaching the cap rewrites one chain and nothing else.
const (
	CapOff CapAction = iota
	CapOpen
	// CapAllowlist forwards out by the WAN only from CapAllow.
	CapAllowlist
	// CapBlock forwards nothing out by the WAN. The Pi's own traffic (the
	// probes, the health endpoint's answers) is not forwarded and passes.
	CapBlock
)

// healthRules: the jump to the health chain, first in the input chain so
// that every packet to the port is counted (the replies' established
// packets too); the chain accepts the allowed sources, or every source.
func healthRules(p Policy, w string, v6 bool) (jump string, chain []string) {
	jump = "-i " + w + " -p tcp -m tcp --dport " + strconv.Itoa(p.HealthPort) + " -j " + chainHealth
	if len(p.HealthAllowFrom) == 0 {
		return jump, []string{"-j ACCEPT"}
	}
	for _, s := range familySources(p.HealthAllowFrom, v6) {
		chain = append(chain, "-s "+s.String()+" -j ACCEPT")
	}
	return jump, append(chain, "-j DROP")
}

// ownRules: the jumps that count the Pi's own traffic on the WAN, first in
// the input chain (before anything accepts or drops) and in the output
// chain. The chain they jump to is empty: the packet returns and goes on.
func ownRules(w string) (in, out string) {
	return "-i " + w + " -j " + chainOwn, "-o " + w + " -j " + chainOwn
}

// capRules: the jump first in the forward chain (before the established
// accepts, so a download under way stops too: its LAN side's packets no
// longer leave) and the chain's rules for the action.
func capRules(p Policy, w string, v6 bool) (jump string, chain []string) {
	jump = "-o " + w + " -j " + chainCap
	reject := "icmp-admin-prohibited"
	if v6 {
		reject = "icmp6-adm-prohibited"
	}
	switch p.Cap {
	case CapAllowlist:
		for _, s := range familySources(p.CapAllow, v6) {
			chain = append(chain, "-s "+s.String()+" -j RETURN")
		}
		fallthrough
	case CapBlock:
		chain = append(chain, "-p tcp -j REJECT --reject-with tcp-reset", "-j REJECT --reject-with "+reject)
	}
	return jump, chain
}

func validateMetered(p Policy) error {
	for _, s := range append(append([]netip.Prefix(nil), p.HealthAllowFrom...), p.CapAllow...) {
		if !s.IsValid() || s.Addr().Is4In6() || s.Addr().Zone() != "" {
			return fmt.Errorf("source %s: use a plain IPv4 or IPv6 prefix", s)
		}
	}
	if p.Cap < CapOff || p.Cap > CapBlock {
		return fmt.Errorf("unknown cap action %d", p.Cap)
	}
	return nil
}

// Counter is a rule's kernel counter.
type Counter struct{ Packets, Bytes uint64 }

// counterSaver is a Batch that can also list a table with its counters.
type counterSaver interface {
	SaveCounters(ctx context.Context, table string) (string, error)
}

// SaveCounters runs iptables-save -c for one table.
func (s *systemTables) SaveCounters(ctx context.Context, table string) (string, error) {
	return runTool(ctx, s.save, "", "-c", "-t", table)
}

// ErrNoCounters is returned by MeterCounters when the tables cannot list
// counters (no iptables-save).
var ErrNoCounters = errors.New("iptables-save not available: no rule counters")

// The metered link's rule counters, as MeterCounters names them.
const (
	CounterHealth = "health"  // in to the health port
	CounterOwnIn  = "own-in"  // in to the Pi itself
	CounterOwnOut = "own-out" // out from the Pi itself
)

// meterJumps are the counted jumps: the counter's name, the chain the jump
// is in and the chain it jumps to.
var meterJumps = []struct{ name, from, to string }{
	{CounterHealth, chainInput, chainHealth},
	{CounterOwnIn, chainInput, chainOwn},
	{CounterOwnOut, chainOutput, chainOwn},
}

// MeterCounters are the metered link's rule counters, by family and rule:
// "ipv4 health", "ipv6 own-out" and so on.
type MeterCounters map[string]Counter

// Get is the counter of one rule, both families together.
func (m MeterCounters) Get(rule string) Counter {
	var c Counter
	for _, fam := range []string{"ipv4", "ipv6"} {
		c.Packets += m[fam+" "+rule].Packets
		c.Bytes += m[fam+" "+rule].Bytes
	}
	return c
}

// BytesSince is how many bytes one rule counted, both families together,
// since prev. A rule's counter starts from zero when its chain is
// rewritten (a repair, a restart): a counter that went backwards counts
// from that new start. This is the one place for that rule.
func (m MeterCounters) BytesSince(prev MeterCounters, rule string) uint64 {
	var n uint64
	for _, fam := range []string{"ipv4", "ipv6"} {
		cur, old := m[fam+" "+rule].Bytes, prev[fam+" "+rule].Bytes
		if cur >= old {
			cur -= old
		}
		n += cur
	}
	return n
}

// MeterCounters reads the counters of the metered link's rules: one
// iptables-save -c per family. No rule yet (the firewall not applied)
// counts zero. It only reads, so it may run beside Apply or Keep.
func (f *Firewall) MeterCounters(ctx context.Context) (MeterCounters, error) {
	out := MeterCounters{}
	for _, fam := range f.families(Ruleset{}) {
		if fam.t == nil {
			continue
		}
		cs, ok := fam.t.(counterSaver)
		if !ok {
			return nil, ErrNoCounters
		}
		text, err := cs.SaveCounters(ctx, tableFilter)
		if err != nil {
			return nil, fmt.Errorf("rule counters (%s): %w", fam.name, err)
		}
		for _, j := range meterJumps {
			c, err := jumpCounter(text, j.from, j.to)
			if err != nil {
				return nil, fmt.Errorf("rule counters (%s): %w", fam.name, err)
			}
			out[fam.name+" "+j.name] = c
		}
	}
	return out, nil
}

// jumpCounter finds "[packets:bytes] -A from ... -j to" in iptables-save -c
// output. No such rule (the firewall not applied yet) counts nothing.
func jumpCounter(save, from, to string) (Counter, error) {
	for _, line := range strings.Split(save, "\n") {
		cnt, rule, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || !strings.HasPrefix(cnt, "[") || !strings.HasSuffix(cnt, "]") {
			continue
		}
		spec, ok := strings.CutPrefix(rule, "-A "+from+" ")
		if !ok || !targets(spec, to) {
			continue
		}
		pk, by, ok := strings.Cut(cnt[1:len(cnt)-1], ":")
		p, err1 := strconv.ParseUint(pk, 10, 64)
		b, err2 := strconv.ParseUint(by, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return Counter{}, fmt.Errorf("counter %q not understood", cnt)
		}
		return Counter{Packets: p, Bytes: b}, nil
	}
	return Counter{}, nil
}
