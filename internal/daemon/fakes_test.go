package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/linkstats"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem/netcard"
	"github.com/failberry/failberry/modem/pppd"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/usbpower"
)

// Fakes of the daemon's seams for the scenario tests. Each records the OS
// calls it was asked for, in order, in one shared calls log; the modem is
// the simulator (modem/sim), which speaks real AT, so bring-up, dial and
// hangup run the daemon's real code.

// waitFor bounds every wait of the scenario tests: a failure deadline for a
// busy machine, not a speed target.
const waitFor = 20 * time.Second

// calls is the ordered log of OS calls the fakes saw.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf(format, args...))
}

func (c *calls) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

// simSerial serves the simulated modem on the tty it is plugged in as;
// every other path fails as a missing device would. Like TIOCEXCL, a second
// open while the modem's port is open fails.
type simSerial struct {
	modem *sim.Modem
	rec   *calls
	mu    sync.Mutex
	tty   string // "" while the modem is off the bus
	busy  bool
	// carrierStays: closing the port leaves a call up, as on a modem that
	// does not see DTR drop (the bench's); otherwise the call drops.
	carrierStays bool
}

func (s *simSerial) plug(tty string) { s.mu.Lock(); s.tty = tty; s.mu.Unlock() }

func (s *simSerial) OpenAT(path string, _ int) (ATPort, error) { return s.open(path) }
func (s *simSerial) OpenDial(path string, _ int) (DialLine, error) {
	l, err := s.open(path)
	if err == nil {
		s.rec.add("dial line %s", path)
	}
	return l, err
}

func (s *simSerial) open(path string) (*simLine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case path != s.tty:
		return nil, fmt.Errorf("open %s: %w", path, os.ErrNotExist)
	case s.busy:
		return nil, fmt.Errorf("open %s: device busy", path)
	}
	s.busy = true
	dte, modemSide := net.Pipe()
	carrier, network := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go io.Copy(io.Discard, network) //nolint:errcheck // the network drops what the call sends
	go func() {
		defer close(done)
		_ = s.modem.Run(ctx, modemSide, carrier)
	}()
	l := &simLine{Conn: dte, path: path}
	l.timeout.Store(-1)
	stays := s.carrierStays
	l.release = sync.OnceFunc(func() {
		if !stays {
			network.Close() // the call, if any, drops: NO CARRIER
			deadline := time.Now().Add(2 * time.Second)
			for s.modem.Snapshot().CallUp && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		cancel() // the modem stops before its carrier closes: a call stays up
		dte.Close()
		<-done
		modemSide.Close()
		carrier.Close()
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	})
	return l, nil
}

// simLine is one open of the modem's tty. Handed to the fake pppd, the
// daemon's Close leaves it open (pppd has its own copy of the descriptor)
// and the fake pppd releases it when it exits.
type simLine struct {
	net.Conn
	path       string
	timeout    atomic.Int64
	handedOver atomic.Bool
	release    func()
}

func (l *simLine) SetReadTimeout(d time.Duration) error { l.timeout.Store(int64(d)); return nil }

func (l *simLine) Read(p []byte) (int, error) {
	var deadline time.Time
	if d := time.Duration(l.timeout.Load()); d >= 0 {
		deadline = time.Now().Add(d)
	}
	if err := l.Conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	return l.Conn.Read(p)
}

func (l *simLine) Close() error {
	if !l.handedOver.Load() {
		l.release()
	}
	return nil
}

func (l *simLine) File() *os.File { return nil }

// fakePPPD starts fake pppds on the dialled line; the test ends them.
type fakePPPD struct {
	rec     *calls
	started chan *fakePPP
	pids    atomic.Int32
	mu      sync.Mutex
	exited  int // pppds that exited on their own
}

func (f *fakePPPD) start(_ context.Context, o pppd.Options, line DialLine, _ *slog.Logger) (PPP, error) {
	l := line.(*simLine)
	l.handedOver.Store(true)
	p := &fakePPP{rec: f.rec, parent: f, line: l, pid: int(f.pids.Add(1)), done: make(chan struct{})}
	f.rec.add("pppd start %s %s", pppd.Interface(o), l.path)
	f.started <- p
	return p, nil
}

// fakePPP is one fake pppd: it runs until the test makes it exit or the
// daemon stops it, and then drops the call, as pppd's hangup does.
type fakePPP struct {
	rec     *calls
	parent  *fakePPPD
	line    *simLine
	pid     int
	once    sync.Once
	release sync.Once
	done    chan struct{}
	err     error
}

// Release lets the held fake read the line, as pppd.Process.Release does.
func (p *fakePPP) Release() error {
	p.release.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.rec.add("pppd release %d", p.pid)
		go io.Copy(io.Discard, p.line.Conn) //nolint:errcheck // pppd reads the line until it exits
	})
	return nil
}

// exit ends pppd on its own with err (the peer hung up, it was killed...).
func (p *fakePPP) exit(err error) {
	p.once.Do(func() {
		p.err = err
		p.rec.add("pppd exit %d", p.pid)
		p.parent.mu.Lock()
		p.parent.exited++
		p.parent.mu.Unlock()
		p.line.release()
		close(p.done)
	})
}

func (p *fakePPP) Done() <-chan struct{} { return p.done }
func (p *fakePPP) Wait() error           { <-p.done; return p.err }
func (p *fakePPP) Pid() int              { return p.pid }
func (p *fakePPP) Stop(grace time.Duration) error {
	stopped := false
	p.once.Do(func() {
		stopped = true
		p.err = &pppd.ExitError{Code: pppd.ExitUserRequest}
		p.line.release()
		close(p.done)
	})
	if stopped {
		p.rec.add("pppd stop %d grace %v", p.pid, grace)
	}
	return nil
}

// fakeWatcher hands each session's link watch to the test.
type fakeWatcher struct {
	watches chan *linkWatch
}

type linkWatch struct {
	fn   func(route.Link)
	fail chan error
}

func (w *fakeWatcher) watch(ctx context.Context, _ string, fn func(route.Link)) error {
	lw := &linkWatch{fn: fn, fail: make(chan error, 1)}
	select {
	case w.watches <- lw:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-lw.fail:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fakeRoutes records the default route and the reply routing asked for.
type fakeRoutes struct {
	rec     *calls
	mu      sync.Mutex
	replies *route.Policy // nil: removed (or never applied)
}

func (r *fakeRoutes) Apply(l route.Link) error {
	if !l.Ready() {
		return route.ErrLinkNotReady
	}
	if l.Gateway.IsValid() {
		r.rec.add("route apply %s %s via %s", l.Name, l.Local, l.Gateway)
		return nil
	}
	r.rec.add("route apply %s %s", l.Name, l.Local)
	return nil
}
func (r *fakeRoutes) Withdraw() error { r.rec.add("route withdraw"); return nil }
func (r *fakeRoutes) Gateways(name string) (v4, v6 route.Hop, err error) {
	if name != "eth0" {
		return route.Hop{}, route.Hop{}, errors.New("no such link " + name)
	}
	return route.Hop{Gateway: wiredGateway}, route.Hop{}, nil
}
func (r *fakeRoutes) ApplyReplies(p route.Policy) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = &p
	return nil
}
func (r *fakeRoutes) RemoveReplies() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = nil
	r.rec.add("replies removed")
	return nil
}

// steer is the steering of the reply policy now.
func (r *fakeRoutes) steer() route.Steer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.replies == nil {
		return route.Steer{}
	}
	return r.replies.Steer
}

// replyLinks is the reply policy now, as "eth0 via 192.168.1.1" and
// "ppp0 direct" items; nil when removed.
func (r *fakeRoutes) replyLinks() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.replies == nil {
		return nil
	}
	out := []string{}
	for _, u := range r.replies.Uplinks {
		how := "direct"
		if u.V4.Gateway.IsValid() {
			how = "via " + u.V4.Gateway.String()
		}
		out = append(out, fmt.Sprintf("%s %#x %s", u.Name, u.Mark, how))
	}
	return out
}

// fakeFirewall records what the daemon asked of iptables: "firewall gate"
// for the closed gate (firewall.Gate: three filter chains, nothing else),
// "firewall apply" for a policy. A policy's apply waits while held is
// write-locked (nil: never), as a slow iptables-restore would; the gate's
// while gateHeld is.
type fakeFirewall struct {
	rec            *calls
	held, gateHeld *sync.RWMutex
}

func (f fakeFirewall) Apply(_ context.Context, r firewall.Ruleset) error {
	if isGate(r) {
		if f.gateHeld != nil {
			f.gateHeld.RLock()
			defer f.gateHeld.RUnlock()
		}
		f.rec.add("firewall gate")
		return nil
	}
	if f.held != nil {
		f.held.RLock()
		defer f.held.RUnlock()
	}
	f.rec.add("firewall apply")
	return nil
}

func isGate(r firewall.Ruleset) bool {
	if len(r.V4.Chains) != 3 {
		return false
	}
	for _, c := range r.V4.Chains {
		if c.Table != "filter" {
			return false
		}
	}
	return true
}
func (f fakeFirewall) Keep(ctx context.Context, _ firewall.Ruleset, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}
func (f fakeFirewall) Cleanup(context.Context) error { f.rec.add("firewall cleanup"); return nil }

// fakeUSB power-cycles the simulated modem; replug, when set, runs while
// the power is off (the modem comes back under another tty).
type fakeUSB struct {
	rec    *calls
	modem  *sim.Modem
	replug func()
}

func (u *fakeUSB) Cycle(_ context.Context, loc usbpower.Location, _ time.Duration) (usbpower.Timing, error) {
	u.rec.add("usb cycle %s port %d", loc.Hub, loc.Port)
	u.modem.PowerOff()
	if u.replug != nil {
		u.replug()
	}
	u.modem.PowerOn()
	return usbpower.Timing{}, nil
}

// fakeNetcard plays network-card sticks: each Start leases the next address
// of the stick's 192.168.8.0/24 (or the one asked for), and hands the link
// to the test.
type fakeNetcard struct {
	rec     *calls
	started chan *fakeNetLink
	next    atomic.Int32
}

func (f *fakeNetcard) Start(_ context.Context, cfg netcard.Config) (NetLink, error) {
	f.rec.add("netcard start %s as %s prefer %s", cfg.Kernel, cfg.Name, cfg.Prefer)
	addr := netip.AddrFrom4([4]byte{192, 168, 8, byte(100 + f.next.Add(1) - 1)})
	if cfg.Prefer.IsValid() {
		addr = cfg.Prefer
	}
	l := &fakeNetLink{rec: f.rec, done: make(chan struct{}),
		lease: netcard.Lease{Addr: netip.PrefixFrom(addr, 24), Router: stickRouter, Lifetime: time.Hour}}
	f.started <- l
	return l, nil
}

func (f *fakeNetcard) Bounce(_ context.Context, name string) error {
	f.rec.add("netcard bounce %s", name)
	return nil
}

// fakeNetLink is one leased link; lose ends it as a lost lease does.
type fakeNetLink struct {
	rec   *calls
	lease netcard.Lease
	once  sync.Once
	done  chan struct{}
	err   error
}

func (l *fakeNetLink) lose() {
	l.once.Do(func() { l.err = netcard.ErrLeaseLost; close(l.done) })
}
func (l *fakeNetLink) Done() <-chan struct{} { return l.done }
func (l *fakeNetLink) Wait() error           { <-l.done; return l.err }
func (l *fakeNetLink) Lease() netcard.Lease  { return l.lease }
func (l *fakeNetLink) Stop(time.Duration) error {
	l.once.Do(func() { close(l.done) })
	l.rec.add("netcard stop %s", l.lease.Addr.Addr())
	return nil
}

// fakeProbers hands each session's prober to the test.
type fakeProbers struct{ made chan *fakeProber }

func (f *fakeProbers) make(cfg health.ProberConfig, _ *slog.Logger) PathProber {
	p := &fakeProber{changes: make(chan bool, 1), iface: cfg.Interface, traffic: make(chan health.Traffic, 64)}
	f.made <- p
	return p
}

// fakeProber's verdicts are the test's: it sends them on changes. It
// keeps the traffic the daemon handed it.
type fakeProber struct {
	iface   string // the interface its probes are bound to
	changes chan bool
	ok      atomic.Bool
	traffic chan health.Traffic
}

func (p *fakeProber) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (p *fakeProber) Changes() <-chan bool          { return p.changes }
func (p *fakeProber) CellularOK() bool              { return p.ok.Load() }
func (p *fakeProber) Snapshot() health.ProbeStats   { return health.ProbeStats{} }
func (p *fakeProber) verdict(up bool)               { p.ok.Store(up); p.changes <- up }
func (p *fakeProber) Observe(t health.Traffic) {
	select {
	case p.traffic <- t:
	default: // like the real one: never block the sampler
	}
}

// fakeClock fires the waits it is told to hold only when the test says so
// (fire); every other wait (backoffs) passes at once, and is recorded.
type fakeClock struct {
	hold    map[time.Duration]bool
	mu      sync.Mutex
	pending map[time.Duration][]chan time.Time
	waits   []time.Duration
}

func newFakeClock(hold ...time.Duration) *fakeClock {
	c := &fakeClock{hold: map[time.Duration]bool{}, pending: map[time.Duration][]chan time.Time{}}
	for _, d := range hold {
		c.hold[d] = true
	}
	return c
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	if c.hold[d] {
		c.pending[d] = append(c.pending[d], ch)
	} else {
		ch <- time.Now()
	}
	return ch
}

// armed reports how many waits of d are pending.
func (c *fakeClock) armed(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending[d])
}

// fire lets every pending wait of d pass.
func (c *fakeClock) fire(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.pending[d] {
		ch <- time.Now()
	}
	delete(c.pending, d)
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// receive takes the next value from ch or fails the test.
func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// joined is a call log as one line per call, for failure messages.
func joined(log []string) string { return "\n\t" + strings.Join(log, "\n\t") }

// fakeTraffic is the links' counters: what set gave, ErrNoLink before.
type fakeTraffic struct {
	mu sync.Mutex
	c  map[string]linkstats.Counters
}

func (f *fakeTraffic) set(name string, c linkstats.Counters) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.c == nil {
		f.c = map[string]linkstats.Counters{}
	}
	f.c[name] = c
}

func (f *fakeTraffic) Read(name string) (linkstats.Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.c[name]
	if !ok {
		return c, linkstats.ErrNoLink
	}
	return c, nil
}
