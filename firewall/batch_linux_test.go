package firewall

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/testenv"
)

// TestSystemApplyExecs runs a first Apply, a no-op Apply and a Cleanup on
// real iptables, rule by rule (the path without iptables-restore) and in
// batch, counting the iptables programs run. Both paths must reach the same
// rules; the batch path must run one save per family and no restore at all
// when nothing differs. The counts and times are logged (-v) for the record.
func TestSystemApplyExecs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		for _, name := range []string{"outbound", "inbound"} {
			t.Run(name, func(t *testing.T) {
				p := tp.policy
				if name == "inbound" {
					p = inboundTestPolicy(p)
					p.DMZ = netip.MustParseAddr("192.168.50.11")
				}
				tp.t = t
				testSystemApplyExecs(t, tp, tp.ruleset(p))
			})
		}
	})
}

func testSystemApplyExecs(t *testing.T, tp *topo, rs Ruleset) {
	saves := map[string]string{}
	for _, mode := range []string{"per-rule", "batch"} {
		nOpen := tp.execCount()
		v4, v6 := tp.tables()
		if n := tp.execCount() - nOpen; n != 0 {
			// go-iptables' `iptables --version` is for the per-rule
			// path: opening must cost the daemon's first apply nothing.
			t.Errorf("%s: opening the tables ran %d programs, want none", mode, n)
		}
		if mode == "per-rule" {
			v4, v6 = perRule{v4}, perRule{v6}
		}
		fw := New(v4, v6, nil)
		n0 := tp.execCount()
		start := time.Now()
		if err := fw.Apply(context.Background(), rs); err != nil {
			t.Fatalf("%s: Apply: %v", mode, err)
		}
		took := time.Since(start)
		n1 := tp.execCount()
		if err := fw.Apply(context.Background(), rs); err != nil {
			t.Fatalf("%s: second Apply: %v", mode, err)
		}
		n2 := tp.execCount()
		saves[mode] = tp.save()
		start = time.Now()
		if err := fw.Cleanup(context.Background()); err != nil {
			t.Fatalf("%s: Cleanup: %v", mode, err)
		}
		tookCleanup := time.Since(start)
		n3 := tp.execCount()
		t.Logf("%s %-8s: first Apply %d execs in %v, no-op Apply %d execs, Cleanup %d execs in %v",
			tp.b.name, mode, n1-n0, took.Round(time.Millisecond), n2-n1, n3-n2, tookCleanup.Round(time.Millisecond))
		if strings.Contains(tp.save(), ChainPrefix) {
			t.Errorf("%s: owned rules left after Cleanup:\n%s", mode, tp.save())
		}
		if mode == "batch" && (n1-n0 > 4 || n2-n1 != 2 || n3-n2 > 4) {
			t.Errorf("batch: %d, %d, %d execs for first Apply, no-op Apply, Cleanup; want at most one save and one restore per family, and no restore for the no-op",
				n1-n0, n2-n1, n3-n2)
		}
	}
	sameSave(t, "batch vs per-rule", saves["per-rule"], saves["batch"])

	// A failing line undoes its whole table block, and the error names
	// the culprit.
	v4, _ := tp.tables()
	before := tp.save()
	err := v4.(Batch).Restore(context.Background(), "*filter\n:FAILBERRY-T - [0:0]\n-A FAILBERRY-T -j ACCEPT\n-D INPUT -j FAILBERRY-NONE\nCOMMIT\n")
	if err == nil || !strings.Contains(err.Error(), "FAILBERRY-NONE") {
		t.Errorf("bad Restore = %v, want an error naming FAILBERRY-NONE", err)
	}
	sameSave(t, "after a failed Restore", before, tp.save())
}

// BenchmarkSystemFirstApply times a first Apply of the full test policy (both
// families) on real iptables in a fresh network namespace, rule by rule and
// in batch; a Cleanup outside the timer resets the state between runs.
//
//	go test -run '^$' -bench SystemFirstApply -benchtime 5x ./firewall/
func BenchmarkSystemFirstApply(b *testing.B) {
	testenv.RequireRoot(b)
	for _, be := range backends {
		for _, mode := range []string{"per-rule", "batch"} {
			b.Run(be.name+"/"+mode, func(b *testing.B) {
				testenv.RequireTools(b, "ip", be.v4, be.v6, be.save4, be.save6, be.v4+"-restore", be.v6+"-restore")
				tp := newTopo(b, be)
				rs := tp.ruleset(tp.policy)
				v4, v6 := tp.tables()
				if mode == "per-rule" {
					v4, v6 = perRule{v4}, perRule{v6}
				}
				fw := New(v4, v6, nil)
				execs := 0
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					if err := fw.Cleanup(context.Background()); err != nil {
						b.Fatal(err)
					}
					n := tp.execCount()
					b.StartTimer()
					if err := fw.Apply(context.Background(), rs); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					execs += tp.execCount() - n
					b.StartTimer()
				}
				b.ReportMetric(float64(execs)/float64(b.N), "execs/op")
			})
		}
	}
}
