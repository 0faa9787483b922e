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
	// Interval between rounds while healthy; FailingInterval while failing,
	// unknown or recovering, to detect changes quickly.
	Interval, FailingInterval time.Duration
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
// a minute while healthy, well under 5 MB/day (see EstimateBytesPerDay).
func DefaultProberConfig() ProberConfig {
	return NewProberConfig("ppp0", config.Default().Health.Probes)
}

// NewProberConfig returns the prober settings of the config's probes section,
// with every probe bound to iface.
func NewProberConfig(iface string, p config.Probes) ProberConfig {
	return ProberConfig{
		Interface: iface, Targets: p.Targets, Quorum: p.Quorum,
		Interval: time.Duration(p.Interval), FailingInterval: time.Duration(p.FailingInterval),
		Timeout: time.Duration(p.Timeout), DownAfter: p.DownAfter, UpAfter: p.UpAfter,
		MaxLoss: p.MaxLoss, MaxLatency: time.Duration(p.MaxLatency),
	}
}

// CheckBudget is the config's check of the probes' byte budget (a
// config.Check): the same estimate as the status output shows.
func CheckBudget(c config.Config) error {
	p := c.Health.Probes
	est := value.Bytes(EstimateBytesPerDay(NewProberConfig("", p)))
	if p.BudgetBytesPerDay == 0 || est <= p.BudgetBytesPerDay {
		return nil
	}
	return &config.KeyError{Key: "health.probes.budget_bytes_per_day", Msg: fmt.Sprintf(
		"probing %d targets every %s uses about %s a day, over the budget of %s; use a longer interval, fewer targets, or raise the budget",
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
	case c.Interval < time.Second || c.FailingInterval < time.Second:
		return fmt.Errorf("%w: intervals must be at least 1s", ErrInvalidConfig)
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
// (both directions, IP headers included) and the error, nil when answered.
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
	changes chan bool
	resetCh chan struct{}

	mu          sync.Mutex
	state       string
	good, bad   int // consecutive healthy / failed rounds
	lastRoundOK bool
	rounds      uint64
	bytes       uint64
	targets     []targetState
}

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
		changes: make(chan bool, 1),
		resetCh: make(chan struct{}, 1),
		state:   StateUnknown,
		targets: make([]targetState, len(cfg.Targets)),
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
		case <-t.C:
		}
		p.record(p.probeAll(ctx))
		t.Reset(p.nextInterval())
	}
}

// probeAll probes every target once, concurrently.
func (p *Prober) probeAll(ctx context.Context) []probeResult {
	res := make([]probeResult, len(p.cfg.Targets))
	var wg sync.WaitGroup
	for i, tg := range p.cfg.Targets {
		wg.Go(func() { res[i] = p.probe(ctx, p.cfg.Interface, tg, p.cfg.Timeout) })
	}
	wg.Wait()
	return res
}

// record folds one round of results into the stats and the up/down state.
func (p *Prober) record(res []probeResult) {
	p.mu.Lock()
	p.rounds++
	good := 0
	for i, r := range res {
		ts := &p.targets[i]
		ok := r.err == nil && r.rtt <= p.cfg.MaxLatency
		ts.push(ok)
		ts.lastOK = ok
		if r.err == nil {
			ts.lastRTT = r.rtt
		}
		p.bytes += uint64(max(r.bytes, 0))
		if ok && ts.loss() <= p.cfg.MaxLoss {
			good++
		}
		if r.err != nil {
			p.logger.Debug("probe failed", "target", p.cfg.Targets[i].String(), "err", r.err)
		}
	}
	p.lastRoundOK = good >= p.cfg.Quorum
	if p.lastRoundOK {
		p.good, p.bad = p.good+1, 0
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

func (p *Prober) nextInterval() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == StateUp && p.lastRoundOK {
		return p.cfg.Interval
	}
	return p.cfg.FailingInterval
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
	p.healthy.Store(false)
	p.mu.Unlock()
	select {
	case p.resetCh <- struct{}{}:
	default:
	}
}
