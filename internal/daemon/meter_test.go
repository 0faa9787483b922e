package daemon

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/linkstats"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// capFirewall is fakeFirewall that keeps the rules it was last given (by
// Apply or Keep) and counts the health port.
type capFirewall struct {
	fakeFirewall
	mu       sync.Mutex
	last     firewall.Ruleset
	counters firewall.MeterCounters
}

func (f *capFirewall) Apply(ctx context.Context, r firewall.Ruleset) error {
	f.set(r)
	return f.fakeFirewall.Apply(ctx, r)
}

func (f *capFirewall) Keep(ctx context.Context, r firewall.Ruleset, every time.Duration) error {
	f.set(r)
	return f.fakeFirewall.Keep(ctx, r, every)
}

func (f *capFirewall) MeterCounters(context.Context) (firewall.MeterCounters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters, nil
}

func (f *capFirewall) set(r firewall.Ruleset) {
	f.mu.Lock()
	f.last = r
	f.mu.Unlock()
}

// capRules are the cap chain's IPv4 rules as last applied.
func (f *capFirewall) capRules() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.last.V4.Chains {
		if c.Name == firewall.ChainPrefix+"CAP" {
			return c.Rules
		}
	}
	return []string{"(no cap chain)"}
}

func (f *capFirewall) blocks() bool {
	return strings.Contains(strings.Join(f.capRules(), "\n"), "REJECT")
}

// meterHarness is a daemon with a cap of 10 kB (block, a warning at half)
// keeping its state in stateDir.
func meterHarness(t *testing.T, stateDir string) (*harness, *capFirewall) {
	h := newHarness(t, sim.Config{}, func(c *config.Config) {
		c.StateDir = stateDir
		c.Meter.Cap, c.Meter.WarnAt, c.Meter.CapAction = 10_000, []float64{0.5}, "block"
	})
	fw := &capFirewall{fakeFirewall: fakeFirewall{rec: h.rec}}
	h.d.opts.Firewall = fw
	return h, fw
}

// TestMeterCapScenario: the sampler's bytes reach the meter, a warning and
// the cap are journalled once, the block reaches the firewall and survives
// a restart without a second warning, and `failberry data reset` lifts it.
func TestMeterCapScenario(t *testing.T) {
	state := t.TempDir()
	h, fw := meterHarness(t, state)
	h.start()
	eventually(t, "the firewall applied", func() bool { return len(fw.capRules()) == 0 })

	h.traffic.set("ppp0", linkstats.Counters{Index: 7, RxBytes: 5200, TxBytes: 100})
	eventually(t, "the warning", func() bool { return len(h.eventsOf(systemd.DataWarning)) == 1 })
	if fw.blocks() {
		t.Fatal("blocked at 53 %")
	}
	// pppd redialled: a new link counts from zero again, and all of it counts.
	h.traffic.set("ppp0", linkstats.Counters{Index: 9, RxBytes: 4800})
	eventually(t, "the cap reached", func() bool { return len(h.eventsOf(systemd.DataCapReached)) == 1 })
	eventually(t, "the block in the firewall", fw.blocks)
	if got := h.d.Status().Data; got.BytesIn != 10_000 || got.BytesOut != 100 || got.Enforced != "block" {
		t.Errorf("status data = %+v, want in 10000 out 100, block enforced", got)
	}
	fw.mu.Lock()
	fw.counters = firewall.MeterCounters{"ipv4 " + firewall.CounterHealth: {Packets: 10, Bytes: 640}}
	fw.mu.Unlock()
	h.stop()
	if _, err := os.Stat(filepath.Join(state, "meter.json")); err != nil {
		t.Fatalf("no state after stop: %v", err)
	}

	// A restart: the block is in the first rules applied, nothing is warned again.
	h, fw = meterHarness(t, state)
	h.start()
	eventually(t, "the firewall applied", func() bool { return fw.capRules()[0] != "(no cap chain)" })
	if !fw.blocks() {
		t.Fatalf("a restart lifted the block: cap rules %q", fw.capRules())
	}
	h.traffic.set("ppp0", linkstats.Counters{Index: 3, RxBytes: 50})
	eventually(t, "the new link counted", func() bool { return h.d.Status().Data.BytesIn == 10_050 })
	if n := len(h.eventsOf(systemd.DataWarning)) + len(h.eventsOf(systemd.DataCapReached)); n != 0 {
		t.Errorf("a restart warned again (%d events)", n)
	}

	req, _ := http.NewRequest(http.MethodPost, "http://failberry/data/reset", nil)
	resp, err := ControlClient(h.d.cfg.RunDir).Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /data/reset: %v %v", resp, err)
	}
	resp.Body.Close()
	eventually(t, "the block lifted", func() bool { return !fw.blocks() })
	if ev := h.eventsOf(systemd.DataCapLifted); len(ev) != 1 || ev[0].Fields["REASON"] != "reset" {
		t.Errorf("lift events %+v, want one by reset", ev)
	}
	if d := h.d.Status().Data; d.BytesIn != 0 || d.CapReached {
		t.Errorf("after reset: %+v", d)
	}
	h.stop()
}

// TestMeterShares: the health port's and the Pi's own counters reach
// today's figures and the period's, as deltas, with a counter that starts
// again (a rewritten rule) taken as a new start.
func TestMeterShares(t *testing.T) {
	h, fw := meterHarness(t, t.TempDir())
	h.d.fwDone = make(chan struct{})
	close(h.d.fwDone) // no Run: the firewall counts as applied
	h.d.fw = fw
	ctx := context.Background()
	var prev firewall.MeterCounters
	for _, c := range []uint64{600, 1000, 300} {
		fw.mu.Lock()
		fw.counters = firewall.MeterCounters{
			"ipv4 " + firewall.CounterHealth: {Packets: 1, Bytes: c},
			"ipv4 " + firewall.CounterOwnIn:  {Packets: 1, Bytes: 2 * c},
			"ipv6 " + firewall.CounterOwnOut: {Packets: 1, Bytes: 5},
		}
		fw.mu.Unlock()
		prev = h.d.countShares(ctx, prev)
	}
	data := h.d.Status().Data
	if got := data.Today.HealthIn; got != 1300 {
		t.Errorf("health bytes today = %d, want 600+400+300", got)
	}
	if got := data.Today.BytesOwn; got != 2600+5 || data.BytesOwn != got {
		t.Errorf("own bytes today %d, period %d; want 1200+800+600 in and 5 out", got, data.BytesOwn)
	}
}

// TestCheckMeter: the cap's config rules name the key.
func TestCheckMeter(t *testing.T) {
	c := config.Default()
	c.Meter.Cap, c.Meter.CapAction = 1000, "allowlist"
	if err := CheckMeter(c); err == nil || !strings.Contains(err.Error(), "meter.cap_allow") {
		t.Errorf("allowlist without hosts: %v", err)
	}
	c.Meter.CapAction, c.Firewall.Enabled = "block", false
	if err := CheckMeter(c); err == nil || !strings.Contains(err.Error(), "meter.cap_action") {
		t.Errorf("block without the firewall: %v", err)
	}
	c.Meter.CapAction = "warn"
	if err := CheckMeter(c); err != nil {
		t.Errorf("warn without the firewall: %v", err)
	}
}
