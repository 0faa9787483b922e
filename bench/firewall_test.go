//go:build bench

package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
)

// rulesNow is the gateway's iptables and ip6tables rules and user chains,
// per table, without counters (an empty table and no table are the same).
func rulesNow(t *testing.T, ctx context.Context, vm *bench.VM) string {
	t.Helper()
	return guest(t, ctx, vm, 20*time.Second,
		`for f in iptables-save ip6tables-save; do $f | awk -v f=$f '/^\*/ {tb=$0} /^-A/ || /^:FAILBERRY/ {sub(/ \[[0-9]+:[0-9]+\]/, ""); print f, tb, $0}'; done`)
}

// The firewall converges: a crash and a restart leave no duplicates and no
// orphan pppd, a bad config touches nothing, a clean stop removes everything.
func TestDaemonFirewallLifecycle(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	setupNetworks(t, ctx, vm)
	before := rulesNow(t, ctx, vm)
	start := startDaemon(t, ctx, vm, "")
	lanReachesInternet(t, ctx, vm, start, 60*time.Second)
	applied := rulesNow(t, ctx, vm)
	if !strings.Contains(applied, "-A FAILBERRY-POSTROUTING -o ppp+ -j MASQUERADE") {
		t.Fatalf("no masquerade rule:\n%s", applied)
	}

	// A rule deleted behind the daemon's back comes back, and the journal says so.
	guest(t, ctx, vm, 10*time.Second, `iptables -t nat -D FAILBERRY-POSTROUTING -o ppp+ -j MASQUERADE`)
	waitFor(t, 20*time.Second, "the deleted masquerade rule is restored", func() bool { return rulesNow(t, ctx, vm) == applied })
	waitFor(t, 5*time.Second, "a firewall-repaired event", func() bool {
		return strings.Contains(daemonLog(t, vm), `msg="firewall-repaired`)
	})

	// Crash: SIGKILL leaves pppd and the rules behind; the next start cleans up.
	guest(t, ctx, vm, 5*time.Second, `pkill -9 -x failberry; sleep 0.5`)
	if p := pppdPids(t, ctx, vm); len(p) != 1 {
		t.Fatalf("after the crash want the orphan pppd still there, got %v", p)
	}
	restart := time.Now()
	background(t, ctx, vm, "failberry-2.log", `exec /mnt/bin/failberry run --config /mnt/failberry.yaml`)
	lanReachesInternet(t, ctx, vm, restart, 60*time.Second)
	if p := pppdPids(t, ctx, vm); len(p) != 1 {
		t.Errorf("after the restart want exactly one pppd, got %v", p)
	}
	if got := rulesNow(t, ctx, vm); got != applied {
		t.Errorf("rules after crash and restart differ (duplicates?):\n--- before crash\n%s\n--- after restart\n%s", applied, got)
	}

	// A bad config is refused before anything is touched.
	if err := os.WriteFile(filepath.Join(vm.Work, "bad.yaml"), []byte("modem:\n  apn: internet\nfirewall:\n  allow_sources: [\"10.0.0.300\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := vm.Run(ctx, 20*time.Second, `/mnt/bin/failberry run --config /mnt/bad.yaml`)
	if err == nil || !strings.Contains(out, "bad.yaml:4: firewall.allow_sources") {
		t.Errorf("bad config: want a refusal naming file, line and key, got %v:\n%s", err, out)
	}
	if got := rulesNow(t, ctx, vm); got != applied {
		t.Errorf("a bad config changed the rules:\n%s", got)
	}

	// A clean stop removes every rule and chain it added, and pppd.
	guest(t, ctx, vm, 30*time.Second, `pkill -TERM -x failberry; while pidof failberry >/dev/null; do sleep 0.2; done`)
	if got := rulesNow(t, ctx, vm); got != before {
		t.Errorf("rules after a clean stop differ from before the start:\n--- before\n%s\n--- after\n%s", before, got)
	}
	if p := pppdPids(t, ctx, vm); len(p) != 0 {
		t.Errorf("pppd left after a clean stop: %v", p)
	}
}
