package health

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/config"
)

var errLost = errors.New("lost")

func ok(rtt time.Duration) probeResult { return probeResult{rtt: rtt, bytes: 100} }
func lost() probeResult                { return probeResult{bytes: 40, err: errLost} }

func testConfig() ProberConfig {
	return ProberConfig{
		Interface: "lo",
		Targets:   []Target{{Kind: "icmp", Addr: "192.0.2.1"}, {Kind: "icmp", Addr: "192.0.2.2"}, {Kind: "tcp", Addr: "192.0.2.3:53"}},
		Quorum:    2, Interval: time.Minute, FailingInterval: 10 * time.Second, Timeout: time.Second,
		DownAfter: 3, UpAfter: 2, MaxLoss: 0.5, MaxLatency: 500 * time.Millisecond,
	}
}

// allIdx is every target of p, as a round while not healthy probes them.
func allIdx(p *Prober) []int {
	idx := make([]int, len(p.cfg.Targets))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// interval is the time from the last round's start to the next's.
func interval(p *Prober) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.roundStart.IsZero() {
		p.roundStart = p.now()
	}
	return p.dueLocked().Sub(p.roundStart)
}

// step feeds one round and returns (state, healthy, interval, change or nil).
func step(p *Prober, res ...probeResult) (string, bool, time.Duration, *bool) {
	p.record(allIdx(p), res)
	var ch *bool
	select {
	case v := <-p.Changes():
		ch = &v
	default:
	}
	return p.Snapshot().State, p.Healthy(), interval(p), ch
}

func TestProberStateMachine(t *testing.T) {
	T, F := true, false
	ms := time.Millisecond
	good := []probeResult{ok(10 * ms), ok(20 * ms), ok(30 * ms)}
	quorum := []probeResult{ok(10 * ms), lost(), ok(30 * ms)}
	below := []probeResult{ok(10 * ms), lost(), lost()}
	slow := []probeResult{ok(10 * ms), ok(600 * ms), ok(700 * ms)}
	rounds := []struct {
		name     string
		res      []probeResult
		state    string
		interval time.Duration
		change   *bool
	}{
		{"first good round: still unknown", good, StateUnknown, 10 * time.Second, nil},
		{"second good round: up", good, StateUp, time.Minute, &T},
		{"quorum met with one lost", quorum, StateUp, time.Minute, nil},
		{"below quorum: failing interval", below, StateUp, 10 * time.Second, nil},
		{"slow answers count as lost", slow, StateUp, 10 * time.Second, nil},
		{"third failed round: down", below, StateDown, 10 * time.Second, &F},
		{"one good round is not enough", good, StateDown, 10 * time.Second, nil},
		{"failure resets the up count", below, StateDown, 10 * time.Second, nil},
		{"good again", good, StateDown, 10 * time.Second, nil},
		{"second good: up", good, StateUp, time.Minute, &T},
	}
	p := NewProber(testConfig(), nil)
	for _, r := range rounds {
		state, healthy, iv, ch := step(p, r.res...)
		if state != r.state || healthy != (r.state == StateUp) || iv != r.interval {
			t.Errorf("%s: state %s healthy %v interval %v, want %s %v", r.name, state, healthy, iv, r.state, r.interval)
		}
		if (ch == nil) != (r.change == nil) || (ch != nil && *ch != *r.change) {
			t.Errorf("%s: change %v, want %v", r.name, ptr(ch), ptr(r.change))
		}
	}
	if got := p.Snapshot().Rounds; got != uint64(len(rounds)) {
		t.Errorf("rounds = %d, want %d", got, len(rounds))
	}
}

func ptr(b *bool) string {
	if b == nil {
		return "none"
	}
	if *b {
		return "up"
	}
	return "down"
}

func TestProberLossThreshold(t *testing.T) {
	cfg := testConfig()
	cfg.Quorum = 3
	cfg.UpAfter = 1
	cfg.MaxLoss = 0.2
	p := NewProber(cfg, nil)
	ms := time.Millisecond
	// Target 2 loses 3 of its first 5 answers: 60% loss > 20%.
	for i := range 5 {
		second := ok(ms)
		if i < 3 {
			second = lost()
		}
		p.record(allIdx(p), []probeResult{ok(ms), second, ok(ms)})
	}
	if p.Healthy() {
		t.Fatal("healthy although a quorum target exceeds MaxLoss")
	}
	s := p.Snapshot()
	if s.Targets[1].Loss != 0.6 || !s.Targets[1].OK || s.Targets[0].Loss != 0 {
		t.Errorf("target stats %+v", s.Targets)
	}
	// After LossWindow more good rounds, the loss is gone and the path is up.
	for range LossWindow {
		p.record(allIdx(p), []probeResult{ok(ms), ok(ms), ok(ms)})
	}
	if !p.Healthy() {
		t.Fatalf("not healthy after the loss left the window: %+v", p.Snapshot().Targets)
	}
}

func TestProberByteCountingAndSnapshot(t *testing.T) {
	p := NewProber(testConfig(), nil)
	p.record(allIdx(p), []probeResult{ok(time.Millisecond), lost(), {rtt: 5 * time.Millisecond, bytes: -7}})
	s := p.Snapshot()
	if s.BytesSpent != 140 {
		t.Errorf("BytesSpent = %d, want 140 (negative counts ignored)", s.BytesSpent)
	}
	names := []string{s.Targets[0].Target, s.Targets[1].Target, s.Targets[2].Target}
	if strings.Join(names, " ") != "icmp:192.0.2.1 icmp:192.0.2.2 tcp:192.0.2.3:53" {
		t.Errorf("target names %v", names)
	}
	if s.Targets[1].OK || s.Targets[1].Loss != 1 || s.Targets[2].LastRTT != 5*time.Millisecond {
		t.Errorf("targets %+v", s.Targets)
	}
	// The status estimate takes the measured cost of the target that
	// answered (100 B) and the model of the others (lost, or no count).
	cfg := testConfig()
	if want := EstimateBytesPerDay(cfg, func(t Target) int64 {
		if t.String() == "icmp:192.0.2.1" {
			return 100
		}
		return modelCost(t)
	}); s.EstimatedBytesPerDay != want {
		t.Errorf("EstimatedBytesPerDay = %d", s.EstimatedBytesPerDay)
	}
}

func TestProberReset(t *testing.T) {
	p := NewProber(testConfig(), nil)
	good := []probeResult{ok(time.Millisecond), ok(time.Millisecond), ok(time.Millisecond)}
	step(p, good...)
	step(p, good...)
	if !p.Healthy() {
		t.Fatal("not up")
	}
	p.Reset()
	if p.Healthy() || p.Snapshot().State != StateUnknown || interval(p) != 10*time.Second {
		t.Fatalf("after Reset: %+v interval %v", p.Snapshot(), interval(p))
	}
	select {
	case <-p.resetCh:
	default:
		t.Error("Reset did not wake Run")
	}
}

func TestProberChangesKeepsLatest(t *testing.T) {
	p := NewProber(testConfig(), nil)
	p.notify(true)
	p.notify(false)
	p.notify(true)
	if v := <-p.Changes(); !v {
		t.Error("Changes should hold the latest transition")
	}
	select {
	case v := <-p.Changes():
		t.Errorf("stale transition %v left", v)
	default:
	}
}

func TestProberRunWithFakeProbes(t *testing.T) {
	cfg := testConfig()
	cfg.Interval, cfg.FailingInterval, cfg.Timeout = time.Second, time.Second, time.Second
	p := NewProber(cfg, nil)
	var mu sync.Mutex
	seen := map[string]string{}
	p.probe = func(ctx context.Context, iface string, tg Target, timeout time.Duration) probeResult {
		mu.Lock()
		seen[tg.String()] = iface
		mu.Unlock()
		return ok(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Round 1 at once; Reset forces round 2 without waiting for the interval.
	deadline := time.After(20 * time.Second)
	for p.Snapshot().Rounds < 1 {
		select {
		case <-deadline:
			t.Fatal("no round")
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case up := <-p.Changes():
		if !up {
			t.Error("went down with answering probes")
		}
	case <-deadline:
		t.Fatal("never went up")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tg := range cfg.Targets {
		if seen[tg.String()] != "lo" {
			t.Errorf("target %s probed on %q, want lo", tg, seen[tg.String()])
		}
	}
}

func TestProberRunRejectsBadConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Quorum = 5
	if err := NewProber(cfg, nil).Run(context.Background()); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Run = %v, want ErrInvalidConfig", err)
	}
}

func TestValidate(t *testing.T) {
	mod := func(f func(*ProberConfig)) ProberConfig { c := testConfig(); f(&c); return c }
	bad := map[string]ProberConfig{
		"quorum > targets": mod(func(c *ProberConfig) { c.Quorum = 4 }),
		"negative quorum":  mod(func(c *ProberConfig) { c.Quorum = -1 }),
		"tiny interval":    mod(func(c *ProberConfig) { c.Interval = time.Millisecond }),
		"timeout > fail":   mod(func(c *ProberConfig) { c.Timeout = time.Minute }),
		"loss > 1":         mod(func(c *ProberConfig) { c.MaxLoss = 2 }),
		"bad kind":         mod(func(c *ProberConfig) { c.Targets[0].Kind = "udp" }),
		"icmp hostname":    mod(func(c *ProberConfig) { c.Targets[0].Addr = "example.com" }),
		"icmp v6":          mod(func(c *ProberConfig) { c.Targets[0].Addr = "::1" }),
		"tcp no port":      mod(func(c *ProberConfig) { c.Targets[2].Addr = "9.9.9.9" }),
		"https":            mod(func(c *ProberConfig) { c.Targets[2] = Target{Kind: "http", Addr: "https://x/"} }),
		"negative down":    mod(func(c *ProberConfig) { c.DownAfter = -1 }),
	}
	for name, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
	}
	for _, c := range []ProberConfig{{}, DefaultProberConfig(), testConfig(),
		mod(func(c *ProberConfig) { c.Targets[2] = Target{Kind: "http", Addr: "http://example.com:8080/gen204"} })} {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

func TestEstimateBytesPerDay(t *testing.T) {
	def := EstimateBytesPerDay(DefaultProberConfig(), nil)
	if def <= 0 || def >= 500_000 {
		t.Fatalf("default config uses %d bytes/day on a quiet link, want < 0.5 MB", def)
	}
	if EstimateBytesPerDay(ProberConfig{}, nil) != def {
		t.Error("zero config should estimate like the defaults")
	}
	// A quiet day: 1440 rounds, each one target in turn.
	cfg := DefaultProberConfig()
	var sum int64
	for _, tg := range cfg.Targets {
		sum += modelCost(tg)
	}
	if want := 1440 * sum / int64(len(cfg.Targets)); def != want {
		t.Errorf("estimate %d, want %d", def, want)
	}
	measured := EstimateBytesPerDay(cfg, func(Target) int64 { return 100 })
	if measured != 1440*100 {
		t.Errorf("estimate with 100 B probes = %d, want %d", measured, 1440*100)
	}
	fast := DefaultProberConfig()
	fast.Interval = time.Second
	if EstimateBytesPerDay(fast, nil) <= def {
		t.Error("a faster interval should cost more")
	}
}

func TestTCPFailModel(t *testing.T) {
	for timeout, syns := range map[time.Duration]int64{500 * time.Millisecond: 1, time.Second: 2, 3 * time.Second: 3, 7 * time.Second: 4} {
		if got := tcpFailModel(timeout); got != syns*(tcpSynLen+pppFraming) {
			t.Errorf("tcpFailModel(%v) = %d, want %d SYNs", timeout, got, syns)
		}
	}
}

func BenchmarkEstimateBytesPerDay(b *testing.B) {
	var n int64
	for b.Loop() {
		n = EstimateBytesPerDay(DefaultProberConfig(), nil)
	}
	b.ReportMetric(float64(n)/1e6, "MB/day")
}

// The budget check runs inside config.Parse, so its problem carries the
// key's line: what `failberry check` prints.
func TestCheckBudget(t *testing.T) {
	src := "modem:\n  apn: internet\nhealth:\n  probes:\n    budget_bytes_per_day: 100kB\n"
	_, err := config.Parse("f.yaml", []byte(src), CheckBudget)
	want := "f.yaml:5: health.probes.budget_bytes_per_day: probing one of 3 targets every 1m uses about 0.3 MB a day"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "over the budget of 0.1 MB") {
		t.Errorf("Parse with a 100 kB budget = %v, want %q...", err, want)
	}
	if _, err := config.Parse("f.yaml", []byte("modem:\n  apn: internet\n"), CheckBudget); err != nil {
		t.Errorf("the defaults fail their own budget: %v", err)
	}
}
