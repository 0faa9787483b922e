package firewall

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The metered link's two chains: FAILBERRY-HEALTH, which every packet to the
// health port over the WAN passes (its jump's counter is the cost of being
// checked, and it holds health.allow_from), and FAILBERRY-CAP, which the
// forward chain sends everything leaving by the WAN through (the monthly
// cap's action).
const (
	chainHealth = ChainPrefix + "HEALTH"
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

// ErrNoCounters is returned by HealthCounter when the tables cannot list
// counters (no iptables-save).
var ErrNoCounters = errors.New("iptables-save not available: no rule counters")

// HealthCounter is what came in over the WAN to the health port, both
// families together, as the jump into the health chain counted it: one
// iptables-save -c per family. The counter starts again from zero when the
// input chain is rewritten (a repair, a restart); the caller takes a
// counter that went backwards as a new start. It only reads, so it may run
// beside Apply or Keep.
func (f *Firewall) HealthCounter(ctx context.Context) (Counter, error) {
	var total Counter
	for _, fam := range f.families(Ruleset{}) {
		if fam.t == nil {
			continue
		}
		cs, ok := fam.t.(counterSaver)
		if !ok {
			return Counter{}, ErrNoCounters
		}
		text, err := cs.SaveCounters(ctx, tableFilter)
		if err != nil {
			return Counter{}, fmt.Errorf("health port counter (%s): %w", fam.name, err)
		}
		c, err := jumpCounter(text, chainInput, chainHealth)
		if err != nil {
			return Counter{}, fmt.Errorf("health port counter (%s): %w", fam.name, err)
		}
		total.Packets += c.Packets
		total.Bytes += c.Bytes
	}
	return total, nil
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
