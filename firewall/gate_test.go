package firewall

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// closedWAN reports what is open on the WAN in f's filter table, or "": each
// built-in chain must jump to its owned chain, and that chain must drop the
// WAN's packets with no blanket ACCEPT of them before the DROP.
func closedWAN(f *fakeTables) string {
	for _, c := range []struct{ from, chain, drop string }{
		{"INPUT", chainInput, "-i ppp+ -j DROP"},
		{"FORWARD", chainForward, "-i ppp+ -j DROP"},
	} {
		if !slices.Contains(f.chains["filter"][c.from], "-j "+c.chain) {
			return "no jump from " + c.from
		}
		rules := f.chains["filter"][c.chain]
		drop := slices.Index(rules, c.drop)
		if drop < 0 {
			return c.chain + " does not drop the WAN"
		}
		for _, open := range []string{"-i ppp+ -j ACCEPT", "-j ACCEPT"} {
			if i := slices.Index(rules, open); i >= 0 && i < drop {
				return c.chain + " accepts the WAN before dropping it"
			}
		}
	}
	return ""
}

// TestGateThenPolicy is the daemon's start: the gate over what a crashed run
// left, then the full policy over the gate. The WAN is closed after every
// change either makes, and the end state is the policy's alone.
func TestGateThenPolicy(t *testing.T) {
	p := fullPolicy()
	rs := mustBuild(t, p)
	gate := Gate(p)
	starts := map[string]func(f *fakeTables){
		"empty": func(*fakeTables) {},
		"a crashed run's rules": func(f *fakeTables) {
			for _, c := range rs.V4.Chains {
				f.add(c.Table, c.Name, c.Rules...)
			}
			for _, j := range rs.V4.Jumps {
				f.add(j.Table, j.From, j.Spec())
			}
			f.add("filter", "INPUT", "-j "+chainInput) // and a duplicate jump
		},
	}
	for mode, wrap := range modes {
		for name, setup := range starts {
			t.Run(mode+"/"+name, func(t *testing.T) {
				v4, v6 := newFake(), newFake()
				setup(v4)
				addForeign(v4)
				addForeign(v6)
				fw := New(wrap(v4), wrap(v6), nil)
				var steps int
				gated := false
				v4.after = func(f *fakeTables) {
					steps++
					if open := closedWAN(f); open != "" && (gated || name != "empty") {
						t.Errorf("step %d: WAN open: %s", steps, open)
					}
				}
				// The gate converges the filter table only: the other tables
				// keep what they had (a running policy's NAT and marks).
				want := wantState(gate.V4)
				for _, table := range []string{"nat", "mangle"} {
					want.chains[table] = maps.Clone(v4.chains[table])
				}
				if err := fw.Apply(context.Background(), gate); err != nil {
					t.Fatalf("gate: %v", err)
				}
				if open := closedWAN(v4); open != "" {
					t.Fatalf("gate applied, WAN open: %s", open)
				}
				if diff := cmp.Diff(want.dump(), v4.dump()); diff != "" {
					t.Errorf("gate's ipv4 state (-want +got):\n%s", diff)
				}
				gated = true
				if err := fw.Apply(context.Background(), rs); err != nil {
					t.Fatalf("policy: %v", err)
				}
				if diff := cmp.Diff(wantState(rs.V4).dump(), v4.dump()); diff != "" {
					t.Errorf("ipv4 state after the policy (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantState(rs.V6).dump(), v6.dump()); diff != "" {
					t.Errorf("ipv6 state after the policy (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestGateIPv6Off: no ip6tables rules when the policy has no IPv6.
func TestGateIPv6Off(t *testing.T) {
	p := fullPolicy()
	p.IPv6 = false
	if g := Gate(p); !g.V6.Empty() || g.V4.Empty() {
		t.Errorf("gate without IPv6: %+v", g)
	}
}
