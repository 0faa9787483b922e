package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failberry/failberry/health/target"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/config/value"
)

// Target is one probe destination, as target.Parse parses it:
// that parser is the one place that says what the prober can run.
type Target = target.Target

// ProberConfig configures a Prober. Zero fields take the values of
// DefaultProberConfig, so a config file only needs what it changes.
type ProberConfig struct {
	// Interface every probe socket is bound to (SO_BINDTODEVICE), e.g. "ppp0",
	// so probes test the cellular path even while the default route is wired.
	Interface string
	Targets   []Target
	// Quorum is how many targets must answer for a round to count as healthy.
	Quorum int
	// Interval between the starts of rounds while healthy, each probing one
	// target in turn; FailingInterval while failing, unknown, recovering or
	// suspect, each round probing every target, to decide quickly.
	Interval, FailingInterval time.Duration
	// SuspectAfter: packets went out and none came back for this long, or
	// a flow of incoming packets stopped for this long: the path is
	// suspect and probed at once (see Observe).
	SuspectAfter time.Duration
	// Timeout of one probe.
	Timeout time.Duration
	// DownAfter consecutive failed rounds mark the path down; UpAfter
	// consecutive healthy rounds mark it up (hysteresis against flapping).
	DownAfter, UpAfter int
	// MaxLoss: a target whose loss over the last LossWindow rounds exceeds it
	// does not count towards the quorum, even if it answered this round.
	MaxLoss float64
	// MaxLatency: an answer slower than this counts as lost.
	MaxLatency time.Duration
}

// LossWindow is the number of rounds over which per-target loss is measured.
const LossWindow = 10

// ErrInvalidConfig is wrapped by Validate's errors.
var ErrInvalidConfig = errors.New("invalid prober config")

// DefaultProberConfig returns the config file's default probes on ppp0: two
// ICMP targets and one TCP target on different networks, quorum 2, one round
// of one target a minute while healthy, under 0.5 MB a day on a quiet link
// (see EstimateBytesPerDay).
func DefaultProberConfig() ProberConfig {
	return NewProberConfig("ppp0", config.Default().Health.Probes)
}

// NewProberConfig returns the prober settings of the config's probes section,
// with every probe bound to iface.
func NewProberConfig(iface string, p config.Probes) ProberConfig {
	return ProberConfig{
		Interface: iface, Targets: p.Targets, Quorum: p.Quorum,
		Interval: time.Duration(p.Interval), FailingInterval: time.Duration(p.FailingInterval),
		SuspectAfter: time.Duration(p.SuspectAfter),
		Timeout:      time.Duration(p.Timeout), DownAfter: p.DownAfter, UpAfter: p.UpAfter,
		MaxLoss: p.MaxLoss, MaxLatency: time.Duration(p.MaxLatency),
	}
}

// CheckBudget is the config's check of the probes' byte budget (a
// config.Check): the same estimate as the status output shows.
func CheckBudget(c config.Config) error {
	p := c.Health.Probes
	est := value.Bytes(EstimateBytesPerDay(NewProberConfig("", p), nil))
	if p.BudgetBytesPerDay == 0 || est <= p.BudgetBytesPerDay {
		return nil
	}
	return &config.KeyError{Key: "health.probes.budget_bytes_per_day", Msg: fmt.Sprintf(
		"probing one of %d targets every %s uses about %s a day on a quiet link, over the budget of %s; use a longer interval, fewer or cheaper targets (icmp), or raise the budget",
		len(p.Targets), p.Interval, est.MB(), p.BudgetBytesPerDay.MB())}
}

// withDefaults fills zero fields from DefaultProberConfig.
func (c ProberConfig) withDefaults() ProberConfig {
	d := DefaultProberConfig()
	if c.Interface == "" {
		c.Interface = d.Interface
	}
	if len(c.Targets) == 0 {
		c.Targets = d.Targets
	}
	if c.Quorum == 0 {
		c.Quorum = min(d.Quorum, len(c.Targets))
	}
	setDur(&c.Interval, d.Interval)
	setDur(&c.FailingInterval, d.FailingInterval)
	setDur(&c.SuspectAfter, d.SuspectAfter)
	setDur(&c.Timeout, d.Timeout)
	setDur(&c.MaxLatency, d.MaxLatency)
	if c.DownAfter == 0 {
		c.DownAfter = d.DownAfter
	}
	if c.UpAfter == 0 {
		c.UpAfter = d.UpAfter
	}
	if c.MaxLoss == 0 {
		c.MaxLoss = d.MaxLoss
	}
	return c
}

func setDur(p *time.Duration, d time.Duration) {
	if *p == 0 {
		*p = d
	}
}

// Validate reports a config the Prober cannot run, after defaults are applied.
func (c ProberConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Quorum < 1 || c.Quorum > len(c.Targets):
		return fmt.Errorf("%w: quorum %d with %d targets", ErrInvalidConfig, c.Quorum, len(c.Targets))
	case c.Interval < time.Second || c.FailingInterval < time.Second || c.SuspectAfter < time.Second:
		return fmt.Errorf("%w: intervals and suspect_after must be at least 1s", ErrInvalidConfig)
	case c.Timeout <= 0 || c.Timeout > c.FailingInterval:
		return fmt.Errorf("%w: timeout %v must be positive and at most the failing interval", ErrInvalidConfig, c.Timeout)
	case c.DownAfter < 1 || c.UpAfter < 1:
		return fmt.Errorf("%w: down_after and up_after must be at least 1", ErrInvalidConfig)
	case c.MaxLoss < 0 || c.MaxLoss > 1:
		return fmt.Errorf("%w: max loss %v outside 0..1", ErrInvalidConfig, c.MaxLoss)
	}
	for _, t := range c.Targets {
		if parsed, err := target.Parse(t.String()); err != nil || parsed != t {
			return fmt.Errorf("%w: target %+v: the prober cannot run it: %v", ErrInvalidConfig, t, err)
		}
	}
	return nil
}

// probeResult is the outcome of one probe: round-trip time, bytes on the wire
// (both directions, IP headers and PPP framing included, as counted by the
// probe) and the error, nil when answered.
type probeResult struct {
	rtt   time.Duration
	bytes int64
	err   error
}

type probeFunc func(ctx context.Context, iface string, t Target, timeout time.Duration) probeResult

// Path states.
const (
	StateUnknown = "unknown"
	StateUp      = "up"
	StateDown    = "down"
)

// Prober probes the cellular path in rounds and decides, with quorum and
// hysteresis, whether it passes traffic. Healthy, CellularOK and Snapshot may be
// called from any goroutine; Run runs in one.
type Prober struct {
	cfg     ProberConfig
	logger  *slog.Logger
	probe   probeFunc
	healthy atomic.Bool
	now     func() time.Time
	changes chan bool
	resetCh chan struct{}
	wake    chan struct{} // Observe found the path suspect

	mu          sync.Mutex
	state       string
	good, bad   int // consecutive healthy / failed rounds
	lastRoundOK bool
	rounds      uint64
	skipped     uint64 // healthy rounds traffic made unnecessary
	bytes       uint64
	targets     []targetState
	cost        []costAvg
	next        int // the target of the next one-target round
	// The last round's start and end: traffic in periods overlapping a
	// round is the probes' own and says nothing.
	roundStart, roundEnd time.Time
	inRound              bool
	// evidence is the end of the last period whose packets came back
	// while the path was up: a scheduled round is due an Interval after it.
	evidence time.Time
	suspect  bool // Observe's alarm, cleared by a passing round
	watch    passive
}

// costAvg is the measured cost of a target's answered probes.
type costAvg struct{ sum, n int64 }

// maxDefer bounds how long traffic can stand in for the probes: a round
// runs at least every maxDefer healthy intervals, so a path that only
// receives (scanners, health checkers reaching the cellular address while
// nothing goes out) is still tested end to end.
const maxDefer = 10

type targetState struct {
	lastRTT time.Duration
	lastOK  bool
	window  [LossWindow]bool // answered, per round; ring
	n, next int
}

func (s *targetState) push(ok bool) {
	s.window[s.next] = ok
	s.next = (s.next + 1) % LossWindow
	s.n = min(s.n+1, LossWindow)
}

func (s *targetState) loss() float64 {
	if s.n == 0 {
		return 0
	}
	lost := 0
	for i := range s.n {
		if !s.window[i] {
			lost++
		}
	}
	return float64(lost) / float64(s.n)
}

// NewProber returns a Prober for cfg (zero fields take defaults) in state
// unknown. logger nil means discard. Run validates the config.
func NewProber(cfg ProberConfig, logger *slog.Logger) *Prober {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg = cfg.withDefaults()
	return &Prober{
		cfg:     cfg,
		logger:  logger,
		probe:   realProbe,
		now:     time.Now,
		changes: make(chan bool, 1),
		resetCh: make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
		state:   StateUnknown,
		targets: make([]targetState, len(cfg.Targets)),
		cost:    make([]costAvg, len(cfg.Targets)),
		watch:   newPassive(cfg.SuspectAfter, cfg.Interval),
	}
}

// Run probes until ctx is done and then returns nil; it returns an error at
// once when the config is invalid.
func (p *Prober) Run(ctx context.Context) error {
	if err := p.cfg.Validate(); err != nil {
		return fmt.Errorf("prober: %w", err)
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.resetCh:
		case <-p.wake:
			if wait := p.wait(); wait > 0 {
				t.Reset(wait)
				continue
			}
		case <-t.C:
			if wait := p.wait(); wait > 0 {
				p.mu.Lock()
				p.skipped++ // traffic that came back moved the round on
				p.mu.Unlock()
				t.Reset(wait)
				continue
			}
		}
		idx := p.begin()
		p.record(idx, p.probeSome(ctx, idx))
		t.Reset(p.wait())
	}
}

// wait returns how long until the next round is due; <= 0: now.
func (p *Prober) wait() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dueLocked().Sub(p.now())
}

// healthyLocked: the path is up and nothing says otherwise, so rounds are
// slow and probe one target each.
func (p *Prober) healthyLocked() bool {
	return p.state == StateUp && p.lastRoundOK && !p.suspect
}

// dueLocked is when the next round starts: an Interval after the later of
// the last round and the last traffic that came back (bounded by
// maxDefer) while healthy, else a FailingInterval after the last round.
func (p *Prober) dueLocked() time.Time {
	if p.roundStart.IsZero() {
		return p.now()
	}
	if !p.healthyLocked() {
		return p.roundStart.Add(p.cfg.FailingInterval)
	}
	last := p.roundStart
	if p.evidence.After(last) {
		last = p.evidence
	}
	due, latest := last.Add(p.cfg.Interval), p.roundStart.Add(maxDefer*p.cfg.Interval)
	if due.After(latest) {
		return latest
	}
	return due
}

// begin starts a round and returns the targets it probes: one, in turn,
// while healthy; all of them otherwise.
func (p *Prober) begin() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.roundStart, p.inRound = p.now(), true
	if p.healthyLocked() {
		i := p.next % len(p.cfg.Targets)
		p.next++
		return []int{i}
	}
	idx := make([]int, len(p.cfg.Targets))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// probeSome probes the targets idx once, concurrently.
func (p *Prober) probeSome(ctx context.Context, idx []int) []probeResult {
	res := make([]probeResult, len(idx))
	var wg sync.WaitGroup
	for j, i := range idx {
		tg := p.cfg.Targets[i]
		wg.Go(func() { res[j] = p.probe(ctx, p.cfg.Interface, tg, p.cfg.Timeout) })
	}
	wg.Wait()
	return res
}

// Observe takes one period of the link's traffic (see Traffic): packets
// coming back while the path is up make the next scheduled round
// unnecessary; packets sent without answer, or a flow that stops, make
// the path suspect and start a round at once, at the failing cadence until
// a round passes. Traffic never makes a path up and never undoes a failed
// round: only probes decide up and down, so hysteresis (UpAfter,
// DownAfter) and whatever waits on Changes see probe verdicts only. It
// does not block; call it from the sampling goroutine.
func (p *Prober) Observe(t Traffic) {
	p.mu.Lock()
	if p.inRound || t.From.Before(p.roundEnd) {
		p.mu.Unlock()
		return // the probes' own packets
	}
	wake := false
	switch p.watch.observe(t) {
	case answered:
		if p.state == StateUp {
			p.evidence = t.To
		}
	case suspect:
		if !p.suspect && p.state != StateDown {
			p.suspect, wake = true, true
			p.logger.Debug("path suspect", "rule", p.watch.rule(), "last_rx", t.To.Sub(p.watch.lastRx).Round(time.Second))
		}
	}
	p.mu.Unlock()
	if wake {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// record folds one round of results for the targets idx into the stats
// and the up/down state.
func (p *Prober) record(idx []int, res []probeResult) {
	p.mu.Lock()
	p.rounds++
	p.roundEnd, p.inRound = p.now(), false
	good := 0
	for j, r := range res {
		i := idx[j]
		ts := &p.targets[i]
		ok := r.err == nil && r.rtt <= p.cfg.MaxLatency
		ts.push(ok)
		ts.lastOK = ok
		if r.err == nil {
			ts.lastRTT = r.rtt
			if r.bytes > 0 {
				p.cost[i].sum += r.bytes
				p.cost[i].n++
			}
		}
		p.bytes += uint64(max(r.bytes, 0))
		if ok && ts.loss() <= p.cfg.MaxLoss {
			good++
		}
		if r.err != nil {
			p.logger.Debug("probe failed", "target", p.cfg.Targets[i].String(), "err", r.err)
		}
	}
	p.lastRoundOK = good >= min(p.cfg.Quorum, len(idx))
	switch {
	case p.suspect:
		p.watch.checked(p.lastRoundOK)
	case p.lastRoundOK:
		p.watch.proven() // what the traffic left open, the round settled
	}
	if p.lastRoundOK {
		p.good, p.bad = p.good+1, 0
		p.suspect = false
	} else {
		p.good, p.bad = 0, p.bad+1
	}
	changed, up := p.transition()
	p.mu.Unlock()
	if changed {
		p.logger.Info("cellular path changed", "up", up)
		p.notify(up)
	}
}

// transition applies hysteresis; caller holds mu.
func (p *Prober) transition() (changed, up bool) {
	switch {
	case p.state != StateUp && p.good >= p.cfg.UpAfter:
		p.state = StateUp
	case p.state != StateDown && p.bad >= p.cfg.DownAfter:
		p.state = StateDown
	default:
		return false, p.state == StateUp
	}
	p.healthy.Store(p.state == StateUp)
	return true, p.state == StateUp
}

// notify delivers v on changes, replacing an unread older value, so a slow
// reader always sees the latest state and Run never blocks.
func (p *Prober) notify(v bool) {
	for {
		select {
		case p.changes <- v:
			return
		default:
		}
		select {
		case <-p.changes:
		default:
		}
	}
}

// Healthy reports whether the path is up (false while unknown).
func (p *Prober) Healthy() bool { return p.healthy.Load() }

// CellularOK implements PathState.
func (p *Prober) CellularOK() bool { return p.healthy.Load() }

// Changes delivers true/false on each up/down transition, for the recovery
// ladder. It holds at most the latest unread transition.
func (p *Prober) Changes() <-chan bool { return p.changes }

// Reset starts over from state unknown with the fast interval and probes at
// once; call it when the link came back. It sends nothing on Changes; the next
// up or down decision will.
func (p *Prober) Reset() {
	p.mu.Lock()
	p.state = StateUnknown
	p.good, p.bad = 0, 0
	p.lastRoundOK = false
	p.targets = make([]targetState, len(p.cfg.Targets))
	p.roundStart, p.roundEnd, p.evidence, p.suspect = time.Time{}, time.Time{}, time.Time{}, false
	p.watch = newPassive(p.cfg.SuspectAfter, p.cfg.Interval)
	p.healthy.Store(false)
	p.mu.Unlock()
	select {
	case p.resetCh <- struct{}{}:
	default:
	}
}
