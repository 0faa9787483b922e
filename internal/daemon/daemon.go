// Package daemon is failberry's main loop: it ties the modem, pppd, the
// default route, the firewall, the probes and the recovery ladder together.
//
// One goroutine (supervise) owns the modem and the link and runs sessions one
// after another: find the modem, bring it up over AT, dial, run pppd until the
// link fails, classify the failure, and take the recovery ladder's next step.
// Everything else (HTTP listeners, firewall upkeep, the watchdog) reads the
// state it publishes and never blocks it.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/ddns"
	"github.com/failberry/failberry/internal/failover"
	"github.com/failberry/failberry/internal/linkstats"
	"github.com/failberry/failberry/internal/meter"
	"github.com/failberry/failberry/internal/notify"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/pppd"
	"github.com/failberry/failberry/systemd"
)

// Linkname is pppd's linkname: its pid file /run/ppp-failberry.pid lets a
// restarted daemon find and stop a pppd left by a crash.
const Linkname = "failberry"

// Options are the daemon's inputs. Roots are parameters so tests and the
// bench can point them elsewhere. The seams (see seams.go) are the operations
// the daemon asks of the OS; nil means the real system, and the scenario
// tests pass fakes.
type Options struct {
	Config   config.Config
	Logger   *slog.Logger
	SysRoot  string // "/sys"
	DevRoot  string // "/dev"
	RunRoot  string // "/run": where pppd writes its pid file
	ProcRoot string // "/proc": forwarding and accept_ra
	Events   *systemd.Events

	Serial         Serial           // the modem's ttys
	StartPPP       StartPPP         // pppd on the dialled line
	Netcard        Netcard          // a network-card stick's link
	WatchLink      WatchLink        // netlink events of the ppp interface
	Routes         Routes           // default route and reply routing
	Firewall       Firewall         // nil: iptables, found at start
	USB            USBPower         // the modem's hub port power
	Run            Runner           // the reboot command
	NewProber      NewProber        // the cellular path's probes
	FlushConntrack FlushConntrack   // conntrack entries of a lost address
	ForgetMarked   ForgetMarked     // conntrack entries by mark (failback)
	LinkStats      linkstats.Reader // the cellular link's traffic counters
	// After is the clock of the waits that decide recovery: the backoffs
	// between ladder steps, healthy_after and the link-up timeout.
	After func(time.Duration) <-chan time.Time
	// Now is the data meter's clock (days, billing periods, its writes).
	Now func() time.Time
}

// withDefaults fills in the real system for every seam left nil.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.SysRoot = cmp.Or(o.SysRoot, "/sys")
	o.DevRoot = cmp.Or(o.DevRoot, "/dev")
	o.RunRoot = cmp.Or(o.RunRoot, "/run")
	o.ProcRoot = cmp.Or(o.ProcRoot, "/proc")
	if o.Events == nil {
		o.Events = systemd.NewEvents(o.Logger)
	}
	if o.Serial == nil {
		o.Serial = systemSerial{}
	}
	if o.StartPPP == nil {
		o.StartPPP = startPPPD
	}
	if o.Netcard == nil {
		o.Netcard = systemNetcard{}
	}
	if o.WatchLink == nil {
		o.WatchLink = route.WatchLink
	}
	if o.Routes == nil {
		mode := route.Mode(o.Config.Route.Mode) // NewManager takes an unknown mode as replace
		log := o.Logger.With("component", "route")
		o.Routes = systemRoutes{route.NewManager(nil, mode, o.Config.Route.Metric, log), route.NewReplyRoutes(nil, log)}
	}
	if o.USB == nil {
		o.USB = systemUSB{sysRoot: o.SysRoot, log: o.Logger}
	}
	if o.Run == nil {
		o.Run = runCommand
	}
	if o.NewProber == nil {
		o.NewProber = newHealthProber
	}
	if o.FlushConntrack == nil {
		o.FlushConntrack = firewall.FlushConntrack
	}
	if o.ForgetMarked == nil {
		o.ForgetMarked = firewall.ForgetMarked
	}
	if o.LinkStats == nil {
		o.LinkStats = linkstats.Netlink{}
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Daemon is one running failberry. Create it with New and start it with Run.
type Daemon struct {
	cfg    config.Config
	opts   Options
	log    *slog.Logger
	events *systemd.Events
	notify *systemd.Notifier
	beat   *health.Heartbeat
	st     *state

	fw     Firewall // nil while the firewall is off or not started
	rules  firewall.Ruleset
	routes Routes
	ladder *Ladder
	// healthyAfter is how long the path must pass its probes before the
	// ladder counts the last recovery step as having worked.
	healthyAfter time.Duration
	reboot       *RebootGuard
	pins         modem.PINStore

	// kind is the cellular link's kind in use (modem.KindPPP or
	// KindNetcard), set when discovery finds one; unset: the config's.
	kind   atomic.Value
	slot   modemSlot  // held while anyone talks AT to the modem, `failberry at` too
	prober PathProber // the current session's, nil while offline

	// Split and gateway mode (primary.go): the primary path's probes (nil
	// in other modes), the decision (under st.mu), whether the failover
	// traffic leaves over cellular now, the nudge that makes the main loop
	// re-apply the steering when that changes, the conntrack flush that a
	// failback owes, and the drill's requests.
	wiredProber   PathProber
	failover      failover.State
	viaCellular   atomic.Bool
	steerChanged  chan struct{}
	forgetPending atomic.Bool
	drills        chan drillReq

	fwDone chan struct{} // closed once the firewall is applied (or failed: fwErr)
	// gateDone is closed once the closed gate (firewall.Gate) is in place,
	// or the firewall failed (fwErr): pppd may start then.
	gateDone chan struct{}
	fwErr    error

	replyErr string // the last reply routing error, logged when it changes

	dns *ddns.Updater    // publishes the cellular address; nil without dns.provider
	out *notify.Notifier // hooks, MQTT, the webhook

	meter      *meter.Meter       // the data meter and the cap's decision
	meterPrev  linkstats.Counters // the last sample it counted (the sampler's)
	meterKick  chan struct{}      // its state changed: save now
	capChanged chan struct{}      // the cap's decision changed: rebuild the rules
}

// New checks what can be checked before anything is touched: a config that
// does not build a valid firewall policy, or names probes the prober cannot
// run (which would leave /cellular failing for good), fails here, with the
// system untouched.
func New(opts Options) (*Daemon, error) {
	opts = opts.withDefaults()
	cfg := opts.Config
	rules, err := firewall.Build(FirewallPolicy(cfg))
	if err != nil {
		return nil, fmt.Errorf("firewall policy: %w", err)
	}
	if err := health.NewProberConfig("", cfg.Health.Probes).Validate(); err != nil {
		return nil, fmt.Errorf("probes: %w", err)
	}
	d := &Daemon{
		cfg: cfg, opts: opts, log: opts.Logger, events: opts.Events,
		notify:       systemd.NewNotifier(),
		beat:         health.NewHeartbeat(heartbeatMaxAge),
		st:           newState(),
		slot:         newModemSlot(),
		steerChanged: make(chan struct{}, 1),
		drills:       make(chan drillReq),
		rules:        rules,
		routes:       opts.Routes,
		ladder:       NewLadder(cfg.Recovery),
		healthyAfter: time.Duration(cfg.Recovery.HealthyAfter),
		reboot: &RebootGuard{
			Path:      filepath.Join(cfg.StateDir, "reboots.json"),
			MinUptime: time.Duration(cfg.Recovery.Reboot.MinUptime),
		},
		pins: modem.NewFilePINStore(filepath.Join(cfg.StateDir, "rejected-pins")),
	}
	d.forgetPending.Store(route.Mode(cfg.Route.Mode) == route.ModeGateway) // what a crashed run left
	if cfg.Recovery.Reboot.Enabled {
		d.reboot.MaxPerDay = cfg.Recovery.Reboot.MaxPerDay
	}
	if d.dns, err = d.newDNS(); err != nil {
		return nil, err
	}
	if d.out, err = d.newNotifier(); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if d.meter, err = openMeter(cfg, opts.Now()); err != nil {
		return nil, err
	}
	d.meterKick, d.capChanged = make(chan struct{}, 1), make(chan struct{}, 1)
	return d, nil
}

// heartbeatMaxAge is how old the main loop's last beat may be while the
// daemon still counts as alive (the public endpoint's 200, the watchdog).
const heartbeatMaxAge = 20 * time.Second

// cleanupTimeout bounds the removal of rules and routes at stop: systemd's
// stop timeout for the unit is 20 s, and pppd's stop comes first.
const cleanupTimeout = 10 * time.Second

// Run runs until ctx is cancelled, then stops pppd and removes the rules and
// routes it added. It returns an error only for a failure to start.
//
// The firewall is applied while the modem comes up (iptables is slow on a Pi
// and the AT bring-up needs no firewall): first a closed gate, after which
// pppd may start, then the whole policy while PPP negotiates; READY=1 is sent
// once the policy is applied.
func (d *Daemon) Run(ctx context.Context) error {
	d.beat.Beat()
	if err := pppd.KillStale(d.opts.RunRoot, Linkname, d.log); err != nil {
		d.log.Warn("stale pppd", "err", err)
	}
	servers, err := d.listen()
	if err != nil {
		return err
	}
	defer shutdown(servers)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d.fwDone, d.gateDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(d.fwDone)
		if d.fwErr = d.startFirewall(ctx); d.fwErr != nil {
			cancel(d.fwErr)
			return
		}
		d.notify.Ready()
		d.events.Emit(systemd.DaemonStarted, "failberry started", map[string]string{"CONFIG_APN": d.cfg.Modem.APN})
	}()
	defer d.stopFirewall(ctx)
	defer d.notify.Stopping()

	d.applyReplies(route.Link{}) // the wired uplink, over whatever a crashed run left
	defer d.removeReplies()

	var wg sync.WaitGroup
	wg.Go(func() { d.notify.Watchdog(ctx, d.beat.Last) })
	wg.Go(func() { d.keepFirewall(ctx) })
	if d.dns != nil {
		wg.Go(func() { _ = d.dns.Run(ctx) }) // returns nil when ctx ends
	}
	wg.Go(func() { d.sampleTraffic(ctx) })
	wg.Go(func() { d.out.Run(ctx) })
	wg.Go(func() { d.runMeter(ctx) })
	wg.Go(func() { d.watchPrimary(ctx) })
	d.supervise(ctx)
	wg.Wait()
	d.flushMeter() // the sampler has stopped: nothing counted is lost
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	d.events.Emit(systemd.DaemonStopped, "failberry stopped", nil)
	return nil
}

// listen binds the public health endpoint, the status listener and the
// control socket before READY=1, so a port clash fails the start.
func (d *Daemon) listen() ([]*http.Server, error) {
	var servers []*http.Server
	bind := func(network, addr string, srv *http.Server) error {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		servers = append(servers, srv)
		go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
		return nil
	}
	public := health.NewPublicServer(d.cfg.Health.Listen, health.NewPublicHandler(d.beat, d))
	if err := bind("tcp", d.cfg.Health.Listen, public); err != nil {
		return nil, err
	}
	if a := d.cfg.Health.StatusListen; a != "" {
		srv := &http.Server{Handler: health.NewStatusHandler(d), ReadHeaderTimeout: 5 * time.Second}
		if err := bind("tcp", a, srv); err != nil {
			shutdown(servers)
			return nil, err
		}
	}
	ctl, err := d.controlServer()
	if err == nil {
		err = bind("unix", ControlSocket(d.cfg.RunDir), ctl)
	}
	if err != nil {
		shutdown(servers)
		return nil, err
	}
	return servers, nil
}

func shutdown(servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(ctx)
	}
}

// CellularOK reports whether the cellular path passes its probes right now:
// the public /cellular endpoint.
func (d *Daemon) CellularOK() bool {
	d.st.mu.Lock()
	p := d.prober
	online := d.st.phase == PhaseOnline
	d.st.mu.Unlock()
	return online && p != nil && p.CellularOK()
}

// now is the meter's clock.
func (d *Daemon) now() time.Time { return d.opts.Now() }
