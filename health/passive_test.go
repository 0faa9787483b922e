package health

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// period is one second of traffic, s seconds after t0.
func period(s int, rx, tx uint64) Traffic {
	return Traffic{From: t0.Add(time.Duration(s) * time.Second), To: t0.Add(time.Duration(s+1) * time.Second), RxPackets: rx, TxPackets: tx}
}

func TestPassiveWatch(t *testing.T) {
	type obs struct {
		rx, tx uint64
		want   verdict
	}
	for name, c := range map[string][]obs{
		"idle says nothing":           {{0, 0, quiet}, {0, 0, quiet}, {0, 0, quiet}, {0, 0, quiet}},
		"answers are proof":           {{3, 3, answered}, {0, 2, quiet}, {1, 0, answered}, {5, 9, answered}},
		"unasked for is no answer":    {{1, 0, quiet}, {0, 0, quiet}, {4, 0, quiet}, {0, 0, quiet}, {0, 0, quiet}},
		"a one-way flow that stops":   {{9, 0, quiet}, {9, 0, quiet}, {0, 0, quiet}, {0, 0, suspect}},
		"sent without answer for 2 s": {{0, 4, quiet}, {0, 4, suspect}, {0, 4, suspect}},
		"an answer in time clears":    {{0, 4, quiet}, {2, 0, answered}, {0, 4, quiet}, {0, 1, suspect}},
		// A lone packet out (a router solicitation nobody answers) or in (a
		// late segment) is no reason to probe.
		"one packet out":  {{0, 1, quiet}, {0, 0, quiet}, {0, 0, quiet}, {0, 0, quiet}, {0, 0, quiet}},
		"one period in":   {{1, 1, answered}, {0, 0, quiet}, {0, 0, quiet}, {0, 0, quiet}},
		"two apart, in":   {{1, 1, answered}, {0, 0, quiet}, {1, 1, answered}, {0, 0, quiet}, {0, 0, quiet}},
		"sent, then more": {{0, 1, quiet}, {0, 0, quiet}, {0, 1, suspect}},
		// A download's receiver goes silent when the path dies.
		"a flow that stops": {{9, 5, answered}, {9, 5, answered}, {0, 0, quiet}, {0, 0, suspect}, {0, 0, quiet}, {0, 0, quiet}},
	} {
		w := newPassive(2*time.Second, time.Minute)
		for i, o := range c {
			if got := w.observe(period(i, o.rx, o.tx)); got != o.want {
				t.Errorf("%s: second %d (rx %d tx %d): verdict %d, want %d", name, i, o.rx, o.tx, got, o.want)
			}
		}
	}
}

// A one-way sender (never answered) must not keep the prober at its failing
// cadence: each passing check doubles the hold-off, up to the interval.
func TestPassiveBacksOffOneWayTraffic(t *testing.T) {
	w := newPassive(2*time.Second, 8*time.Second)
	var alarms []int
	for s := range 60 {
		if w.observe(period(s, 0, 10)) == suspect {
			alarms = append(alarms, s)
			w.checked(true) // the probes answered: the path works
		}
	}
	want := []int{1, 5, 13, 21, 29, 37, 45, 53}
	if len(alarms) != len(want) {
		t.Fatalf("alarms at seconds %v, want %v", alarms, want)
	}
	for i := range want {
		if alarms[i] != want[i] {
			t.Fatalf("alarms at seconds %v, want %v", alarms, want)
		}
	}
	w.observe(period(60, 1, 0))
	if w.holdTx != 8*time.Second {
		t.Errorf("an answer should not undo the back-off: %v", w.holdTx)
	}
	for s := 61; w.observe(period(s, 0, 10)) != suspect; s++ {
	}
	w.checked(false) // a real alarm: the path failed its round
	if w.holdTx != 2*time.Second || w.holdStop != 2*time.Second {
		t.Errorf("a real alarm should restore the hold-offs: %v %v", w.holdTx, w.holdStop)
	}
}

// clock is a settable now for the prober.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(s float64) {
	c.mu.Lock()
	c.t = t0.Add(time.Duration(s * float64(time.Second)))
	c.mu.Unlock()
}

// upProber returns a prober that is up after two good rounds at t0.
func upProber(t *testing.T, c *clock) *Prober {
	t.Helper()
	cfg := testConfig()
	cfg.DownAfter, cfg.SuspectAfter, cfg.FailingInterval = 2, 2*time.Second, 3*time.Second
	p := NewProber(cfg, nil)
	p.now = c.now
	good := []probeResult{ok(time.Millisecond), ok(time.Millisecond), ok(time.Millisecond)}
	for range 2 {
		p.record(p.begin(), good)
	}
	<-p.Changes()
	if !p.Healthy() {
		t.Fatal("not up")
	}
	return p
}

func TestProberTrafficSkipsRounds(t *testing.T) {
	c := &clock{}
	c.set(0)
	p := upProber(t, c)
	// Round at 0 s; healthy: the next one an interval (60 s) later.
	if w := p.wait(); w != time.Minute {
		t.Fatalf("wait %v after a good round, want 1m", w)
	}
	// Traffic comes back from 10 s to 200 s: the rounds move with it.
	for s := 10; s < 200; s++ {
		p.Observe(period(s, 5, 5))
	}
	c.set(200)
	if w := p.wait(); w != time.Minute {
		t.Errorf("wait %v after traffic up to 200 s, want 1m (from the last answer)", w)
	}
	// Traffic can stand in for at most maxDefer intervals.
	for s := 200; s < 1000; s++ {
		p.Observe(period(s, 5, 5))
	}
	c.set(1000)
	if w := p.wait(); w != 10*time.Minute-1000*time.Second {
		t.Errorf("wait %v, want a round due at maxDefer intervals (600 s) after the last", w)
	}
	idx := p.begin()
	if len(idx) != 1 {
		t.Errorf("a healthy round probes %v, want one target", idx)
	}
	p.record(idx, []probeResult{ok(time.Millisecond)})
	if s := p.Snapshot(); s.Rounds != 3 || !s.Healthy {
		t.Errorf("snapshot %+v: want 3 rounds, healthy", s)
	}
}

func TestProberUnansweredTrafficProbesAtOnce(t *testing.T) {
	c := &clock{}
	c.set(0)
	p := upProber(t, c)
	// Packets go out from 30 s; nothing comes back.
	p.Observe(period(30, 0, 4))
	select {
	case <-p.wake:
		t.Fatal("suspect after 1 s")
	default:
	}
	p.Observe(period(31, 0, 4))
	select {
	case <-p.wake:
	default:
		t.Fatal("not suspect after 2 s of unanswered traffic")
	}
	c.set(32)
	if w := p.wait(); w > 0 {
		t.Fatalf("wait %v when suspect, want a round now", w)
	}
	// Suspect rounds probe every target, at the failing cadence, and
	// DownAfter (2) failed rounds decide.
	for round := range 2 {
		idx := p.begin()
		if len(idx) != 3 {
			t.Fatalf("a suspect round probes %v, want all targets", idx)
		}
		c.set(32 + 3*float64(round) + 2.5)
		p.record(idx, []probeResult{lost(), lost(), lost()})
		if round == 0 {
			if w := p.wait(); w != 500*time.Millisecond {
				t.Errorf("wait %v after a failed round of 2.5 s, want the rest of the 3 s failing interval", w)
			}
			c.set(35)
		}
	}
	select {
	case up := <-p.Changes():
		if up {
			t.Fatal("went up")
		}
	default:
		t.Fatal("no down after two failed suspect rounds")
	}
	if p.Snapshot().State != StateDown {
		t.Errorf("state %s", p.Snapshot().State)
	}
}

// The prober's own packets (in periods overlapping a round) are no evidence
// and no alarm.
func TestProberIgnoresItsOwnProbes(t *testing.T) {
	c := &clock{}
	c.set(100)
	p := upProber(t, c) // rounds started and ended at 100 s
	p.Observe(Traffic{From: t0.Add(99 * time.Second), To: t0.Add(101 * time.Second), RxPackets: 1, TxPackets: 1})
	if !p.evidence.IsZero() || !p.watch.lastRx.IsZero() {
		t.Error("a probe's answer counted as traffic")
	}
}

// A scheduled round that passes settles what traffic before it left open:
// a flow that stopped just before the round raises no alarm after it.
func TestProberPassingRoundSettlesTraffic(t *testing.T) {
	c := &clock{}
	c.set(0)
	p := upProber(t, c)
	p.Observe(period(10, 3, 1)) // a short flow, 10..11 s
	c.set(11.5)
	p.record(p.begin(), []probeResult{ok(time.Millisecond)}) // the scheduled round passes
	for s := 12; s < 40; s++ {
		c.set(float64(s + 1))
		p.Observe(period(s, 0, 0))
	}
	if p.suspect {
		t.Error("a passing round left the path suspect: the stopped flow before it still counted")
	}
	if w := p.wait(); w <= 0 {
		t.Errorf("next round due in %v, want the healthy interval's rest", w)
	}
}

// runProber runs p with a fake probe that answers after rtt while alive;
// it returns the down transitions seen.
func runProber(t *testing.T, cfg ProberConfig, alive *atomic.Bool, rtt time.Duration) (*Prober, func() []time.Time) {
	t.Helper()
	p := NewProber(cfg, nil)
	p.probe = func(ctx context.Context, _ string, _ Target, timeout time.Duration) probeResult {
		wait := timeout
		if alive.Load() {
			wait = rtt
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		if alive.Load() && rtt < timeout {
			return ok(rtt)
		}
		return lost()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var downs []time.Time
	done := make(chan struct{})
	go func() { _ = p.Run(ctx) }()
	go func() {
		defer close(done)
		for {
			select {
			case up := <-p.Changes():
				if !up {
					mu.Lock()
					downs = append(downs, time.Now())
					mu.Unlock()
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return p, func() []time.Time { mu.Lock(); defer mu.Unlock(); return append([]time.Time(nil), downs...) }
}

// feeder hands a prober one period of traffic per second from the wall
// clock, each period starting where the last one ended (as the daemon's
// sampler does).
type feeder struct {
	p    *Prober
	last time.Time
}

func (f *feeder) feed(d time.Duration, rx, tx uint64) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		from := f.last
		if from.IsZero() {
			from = time.Now()
		}
		time.Sleep(time.Until(from.Add(time.Second)))
		f.last = time.Now()
		f.p.Observe(Traffic{From: from, To: f.last, RxPackets: rx, TxPackets: tx})
	}
}

func fastConfig() ProberConfig {
	c := testConfig()
	c.Interval, c.FailingInterval, c.Timeout, c.MaxLatency = 30*time.Second, time.Second, time.Second, time.Second
	c.SuspectAfter, c.DownAfter, c.UpAfter = time.Second, 2, 1
	return c
}

func awaitUp(t *testing.T, p *Prober) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !p.Healthy(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("never up")
		}
	}
}

// A path that dies under traffic: packets go out, none come back; the
// prober is down within SuspectAfter + DownAfter rounds (plus the sampling).
func TestProberDiesUnderTraffic(t *testing.T) {
	var alive atomic.Bool
	alive.Store(true)
	cfg := fastConfig()
	p, downs := runProber(t, cfg, &alive, 10*time.Millisecond)
	awaitUp(t, p)
	f := &feeder{p: p}
	f.feed(2*time.Second, 10, 10)
	alive.Store(false)
	died := time.Now()
	go f.feed(8*time.Second, 0, 10)
	budget := cfg.SuspectAfter + time.Second + time.Duration(cfg.DownAfter)*cfg.FailingInterval + time.Second
	for time.Since(died) < budget+2*time.Second && len(downs()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	d := downs()
	if len(d) != 1 || d[0].Sub(died) > budget {
		t.Fatalf("downs %v after the path died at %v, want one within %v", d, died, budget)
	}
}

// No false down: a quiet link probed at the slow interval, a slow path
// (answers after most of the timeout), and a download that stalls for
// three times SuspectAfter while the path works.
func TestProberNoFalseDown(t *testing.T) {
	var alive atomic.Bool
	alive.Store(true)
	cfg := fastConfig()
	p, downs := runProber(t, cfg, &alive, 800*time.Millisecond)
	awaitUp(t, p)
	rounds := p.Snapshot().Rounds
	f := &feeder{p: p}
	f.feed(3*time.Second, 0, 0) // quiet
	if r := p.Snapshot().Rounds; r != rounds {
		t.Errorf("%d rounds on a quiet link within 3 s of a 30 s interval", r-rounds)
	}
	f.feed(2*time.Second, 20, 10) // a download...
	f.feed(3*time.Second, 0, 0)   // ...that stalls
	f.feed(2*time.Second, 20, 10) // ...and goes on
	if r := p.Snapshot().Rounds; r == rounds {
		t.Error("the stall was not checked")
	}
	if d := downs(); len(d) != 0 || !p.Healthy() {
		t.Errorf("false down: %v, healthy %v", d, p.Healthy())
	}
}
