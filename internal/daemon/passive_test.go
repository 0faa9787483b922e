package daemon

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/config/value"
	"github.com/failberry/failberry/internal/linkstats"
	"github.com/failberry/failberry/internal/testenv"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// TestScenarioTrafficFeedsTheProber: the sampler hands the session's
// prober the traffic between samples, as packet deltas, and nothing while
// offline; a re-created link starts its count again.
func TestScenarioTrafficFeedsTheProber(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.start()
	_, w := h.session()
	pr := h.up(w)
	h.traffic.set("ppp0", linkstats.Counters{Index: 7, RxPackets: 10, TxPackets: 20})
	time.Sleep(1500 * time.Millisecond)
	h.traffic.set("ppp0", linkstats.Counters{Index: 7, RxPackets: 13, TxPackets: 27})
	tr := receive(t, "traffic with a delta", filterChan(pr.traffic, func(tr health.Traffic) bool { return tr.RxPackets > 0 }))
	if tr.RxPackets != 3 || tr.TxPackets != 7 || !tr.To.After(tr.From) || tr.To.Sub(tr.From) > 1500*time.Millisecond {
		t.Errorf("traffic %+v, want rx 3 tx 7 over one sample period", tr)
	}
	h.stop()
}

// filterChan passes on the values of in that keep says to keep.
func filterChan[T any](in <-chan T, keep func(T) bool) <-chan T {
	out := make(chan T, 1)
	go func() {
		for v := range in {
			if keep(v) {
				out <- v
				return
			}
		}
	}()
	return out
}

// TestScenarioPassiveDetection runs the real prober, with real TCP probes
// to a loopback listener, inside the daemon: traffic coming back stands in
// for the scheduled rounds; when the path dies (the listener closes) and
// packets go out without answer, the prober probes at once and the daemon
// declares the path down within suspect_after + down_after failing rounds,
// and redials.
func TestScenarioPassiveDetection(t *testing.T) {
	testenv.RequireRoot(t) // SO_BINDTODEVICE on lo
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var probes *health.ProberConfig
	h := newHarness(t, sim.Config{}, func(c *config.Config) {
		c.Health.Probes.Interval = value.Duration(3 * time.Second) // the defaults otherwise
	})
	h.d.opts.NewProber = func(cfg health.ProberConfig, logger *slog.Logger) PathProber {
		cfg.Interface = "lo"
		cfg.Targets = []health.Target{{Kind: "tcp", Addr: ln.Addr().String()}, {Kind: "tcp", Addr: ln.Addr().String()}}
		cfg.Quorum = 2
		probes = &cfg
		h.probers.made <- &fakeProber{} // the harness waits for a prober
		return health.NewProber(cfg, logger)
	}
	h.start()
	_, w := h.session()
	h.up(w)
	eventually(t, "path-up", func() bool { return len(h.eventsOf(systemd.PathUp)) == 1 })

	// Traffic that comes back, for three healthy intervals: no round.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	rxStep, c := uint64(5), linkstats.Counters{Index: 7}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			mu.Lock()
			c.RxPackets += rxStep
			c.TxPackets += 5
			h.traffic.set("ppp0", c)
			mu.Unlock()
		}
	}()
	before := h.d.Status().Probes
	time.Sleep(3*time.Second + 3*probes.Interval)
	after := h.d.Status().Probes
	if after.Rounds != before.Rounds || after.Skipped < 2 {
		t.Errorf("under traffic: %d rounds and %d skipped in 3 intervals, want none and at least 2", after.Rounds-before.Rounds, after.Skipped)
	}

	// The path dies: packets go out, nothing comes back.
	ln.Close()
	mu.Lock()
	rxStep = 0
	mu.Unlock()
	died := time.Now()
	within := probes.SuspectAfter + 2*time.Second + time.Duration(probes.DownAfter)*probes.FailingInterval
	eventually(t, "path-down", func() bool { return len(h.eventsOf(systemd.PathDown)) == 1 })
	if took := time.Since(died); took > within {
		t.Errorf("path down %v after it died, want within %v", took, within)
	}
	if got := h.waitSteps(1); !slices.Equal(got[:1], []string{"redial 1 (path)"}) {
		t.Errorf("steps %v, want a redial for the path", got)
	}
	h.stop()
}
