package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/systemd"
)

var (
	// errPathDown: pppd is up but the probes fail ("connected, no traffic").
	errPathDown = errors.New("cellular path down: probes fail over the link")
	// errLinkTimeout: pppd ran but the interface never came up with an address.
	errLinkTimeout = errors.New("PPP link did not come up")
	// errLinkWatch: the netlink watch of the ppp interface failed. Without it
	// the session is blind (no route when the link comes up, no reaction
	// when it changes), so the session ends and the next one watches again.
	errLinkWatch = errors.New("watching the ppp link failed")
	// errLinkLost: the ppp link lost its address or went down while online:
	// pppd's LCP echo gave up on the peer (a hung modem, a dead carrier).
	// pppd itself would exit only after its Terminate-Request timeouts.
	errLinkLost = errors.New("PPP link lost its address")
)

// online supervises a running pppd: it installs the default route when the
// interface comes up, runs the probes over it, and returns when pppd exits,
// the probes declare the path down, the link watch fails, or ctx ends. pppd
// is always stopped and the route withdrawn before it returns.
func (d *Daemon) online(ctx context.Context, c cellLink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &onlineSession{d: d, proc: c.proc, what: c.what, gateway: c.gateway, links: make(chan route.Link, 16), watchErr: make(chan error, 1)}
	go s.watch(ctx, c.iface)
	defer s.end()
	err := s.loop(ctx)
	s.dead = errors.Is(err, errPathDown) || errors.Is(err, errLinkLost)
	return err
}

// linkProc is what runs the cellular link: pppd (PPP) or a network card's
// DHCP lease (NetLink). It ends (Done, Wait) when the link is lost.
type linkProc interface {
	Done() <-chan struct{}
	Wait() error
	Stop(grace time.Duration) error
}

// cellLink is the link an online session supervises.
type cellLink struct {
	proc  linkProc
	iface string // ppp0, or the network card's name
	what  string // what runs it, for errors: "pppd", "DHCP"
	// gateway is a network card's router (nil for PPP): the default
	// route goes via it.
	gateway func() netip.Addr
}

// onlineSession is the state of one online period.
type onlineSession struct {
	d        *Daemon
	proc     linkProc
	what     string
	gateway  func() netip.Addr
	links    chan route.Link
	watchErr chan error // the link watch's failure, at most one
	link     route.Link // the last ready link, zero until one is
	cur      route.Link // the last link seen, ready or not
	// online is set once the link is up with both addresses: the link-up
	// event, the online phase and the probes wait for the peer, which pppd
	// sets in a second step after the local address.
	online  bool
	changes <-chan bool
	stopPr  context.CancelFunc
	raIndex int // the link whose accept_ra was set
	// proof fires once the path has passed its probes and stayed up for
	// healthyAfter: only then did the last recovery step work, and the
	// ladder starts over. Nil until armed; once proven, a channel that
	// never fires, so it is not armed again.
	proof <-chan time.Time
	// pathUp is set once the probes passed: from then on the address is
	// published in DNS.
	pathUp bool
	// dead is set when the session ends because the path is known dead, so
	// end does not wait for courtesies that cannot come.
	dead bool
}

// watch feeds the ppp interface's changes to the loop until ctx ends; a
// watch that fails before is reported on watchErr.
func (s *onlineSession) watch(ctx context.Context, iface string) {
	err := s.d.opts.WatchLink(ctx, iface, func(l route.Link) {
		select {
		case s.links <- l:
		case <-ctx.Done():
		}
	})
	if ctx.Err() == nil {
		if err == nil {
			err = errors.New("the watch ended")
		}
		s.watchErr <- err
	}
}

func (s *onlineSession) loop(ctx context.Context) error {
	upTimeout := s.d.opts.After(linkUpTimeout)
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.proc.Done():
			return fmt.Errorf("%s: %w", s.what, s.proc.Wait())
		case err := <-s.watchErr:
			return fmt.Errorf("%w: %v", errLinkWatch, err)
		case l := <-s.links:
			if err := s.linkChanged(ctx, l); err != nil {
				return err
			}
			if s.online {
				upTimeout = nil
			}
		case up := <-s.changes:
			if !up {
				s.d.events.Emit(systemd.PathDown, "cellular path fails its probes: the link is up but passes no traffic",
					map[string]string{"INTERFACE": s.link.Name})
				return errPathDown
			}
			s.d.events.Emit(systemd.PathUp, "cellular path passes its probes", map[string]string{"INTERFACE": s.link.Name})
			s.pathUp = true
			s.d.publish(s.link)
			s.armProof()
		case <-s.proof:
			s.proven()
		case <-s.d.steerChanged:
			s.d.applyReplies(s.cur)
		case <-upTimeout:
			return errLinkTimeout
		case <-tick.C:
			s.d.beat.Beat()
			if s.link.Ready() { // put back a route deleted behind our back
				if err := s.d.routes.Apply(s.link); err != nil {
					s.d.log.Warn("default route", "err", err)
				}
			}
			s.d.applyReplies(s.cur)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// linkChanged reacts to the ppp interface appearing, getting its address,
// changing it, or going away. Every change of a ready link re-applies the
// route: pppd sets the local address and the peer in two steps, and the
// kernel flushes routes through the link in between, so a route installed on
// the first step would silently vanish. The link counts as up (event, phase,
// probes) once it has the peer too.
func (s *onlineSession) linkChanged(ctx context.Context, l route.Link) error {
	if s.gateway != nil {
		l.Gateway = s.gateway()
	}
	s.d.st.setLink(l)
	s.cur = l
	if l.Index > 0 && l.Index != s.raIndex && s.d.cfg.Route.IPv6 {
		s.raIndex = l.Index
		s.d.acceptRA(l.Name)
	}
	switch {
	case l.Ready() && !s.online && (l.Peer.IsValid() || l.Gateway.IsValid()):
		return s.up(ctx, l)
	case l.Ready():
		changed := s.link.Ready() && (l.Local != s.link.Local || !slices.Equal(l.Local6, s.link.Local6))
		if changed && l.Local != s.link.Local {
			s.d.log.Info("cellular address changed", "old", s.link.Local, "new", l.Local)
			s.d.flushConntrack(s.link.Local)
		}
		s.link = l
		if err := s.d.routes.Apply(l); err != nil {
			return fmt.Errorf("default route via %s: %w", l.Name, err)
		}
		if changed {
			s.d.warnUnreachable(l)
			if s.pathUp {
				s.d.publish(l)
			}
		}
	case s.online:
		return fmt.Errorf("%w: %s", errLinkLost, l.Name)
	}
	s.d.applyReplies(l)
	return nil
}

func (s *onlineSession) up(ctx context.Context, l route.Link) error {
	d := s.d
	if err := d.routes.Apply(l); err != nil {
		return fmt.Errorf("default route via %s: %w", l.Name, err)
	}
	s.link, s.online = l, true
	d.applyReplies(l)
	d.warnUnreachable(l)
	info := d.st.snapshotInfo()
	d.setPhase(PhaseOnline, statusLine(l, info))
	peer := l.Peer
	if l.Gateway.IsValid() {
		peer = l.Gateway // a network card: the stick's router
	}
	d.events.Emit(systemd.LinkUp, "cellular link up "+statusLine(l, info), map[string]string{
		"INTERFACE": l.Name, "LOCAL": l.Local.String(), "PEER": peer.String(), "OPERATOR": info.Operator,
	})
	// Probes over the closed gate would fail: they start once the policy
	// (applied while PPP negotiated) is in place.
	if err := d.firewallReady(ctx); err != nil {
		return err
	}
	if !s.startProber(ctx, l.Name) {
		s.armProof() // no probes: staying up is the only proof there is
	}
	return nil
}

// armProof starts the healthy_after clock, once per session.
func (s *onlineSession) armProof() {
	if s.proof == nil {
		s.proof = s.d.opts.After(s.d.healthyAfter)
	}
}

// proven resets the ladder: the path passed its probes and stayed up for
// healthyAfter, so whatever step brought it back worked. A link that comes
// up but fails again sooner keeps climbing instead of redialling forever.
func (s *onlineSession) proven() {
	d := s.d
	s.proof = make(chan time.Time) // proven: never again this session
	step, attempt := d.ladder.Position()
	d.ladder.Success()
	d.st.setLadder(StepRedial, 0)
	if attempt > 0 {
		d.log.Info("recovery worked: the path stayed healthy", "step", step.String(), "attempt", attempt,
			"healthy_after", d.healthyAfter)
	}
}

// startProber runs the probes over iface; false when none are configured.
func (s *onlineSession) startProber(ctx context.Context, iface string) bool {
	cfg := health.NewProberConfig(iface, s.d.cfg.Health.Probes)
	if len(cfg.Targets) == 0 {
		return false
	}
	pctx, cancel := context.WithCancel(ctx)
	p := s.d.opts.NewProber(cfg, s.d.log.With("component", "probe"))
	s.changes, s.stopPr = p.Changes(), cancel
	s.d.st.mu.Lock()
	s.d.prober = p
	s.d.st.mu.Unlock()
	go func() {
		if err := p.Run(pctx); err != nil {
			s.d.log.Error("probes stopped", "err", err)
		}
	}()
	return true
}

// end stops pppd and the probes, withdraws the route and forgets the
// connections of the address that is gone.
func (s *onlineSession) end() {
	d := s.d
	if s.stopPr != nil {
		s.stopPr()
	}
	d.st.mu.Lock()
	d.prober = nil
	d.st.mu.Unlock()
	// pppd's SIGTERM sends an LCP Terminate-Request and waits for the ack;
	// over a path known dead (or a hung modem) no ack comes, so do not wait.
	grace := pppdStopGrace
	if s.dead {
		grace = deadPathStopGrace
	}
	if err := s.proc.Stop(grace); err != nil {
		d.log.Debug("stopping "+s.what, "err", err)
	}
	if err := d.routes.Withdraw(); err != nil {
		d.log.Error("withdrawing the default route", "err", err)
	}
	d.st.setLink(route.Link{})
	d.applyReplies(route.Link{})
	d.flushConntrack(s.link.Local)
	if s.online {
		d.events.Emit(systemd.LinkDown, "cellular link down", map[string]string{"INTERFACE": s.link.Name, "LOCAL": s.link.Local.String()})
	}
}

// flushConntrack forgets the connections of an address the link no longer
// has, so NATed sessions re-establish at once instead of black-holing.
func (d *Daemon) flushConntrack(addr netip.Addr) {
	if !addr.IsValid() {
		return
	}
	n, err := d.opts.FlushConntrack(addr)
	if err != nil {
		d.log.Warn("flushing conntrack", "addr", addr, "err", err)
		return
	}
	d.log.Debug("conntrack flushed", "addr", addr, "entries", n)
}

func (s *state) snapshotInfo() modem.Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// acceptRA lets the ppp link take the carrier's IPv6 router advertisements
// (its global prefix and default router) although forwarding is on, where
// the kernel ignores them unless accept_ra is 2.
func (d *Daemon) acceptRA(iface string) {
	p := filepath.Join(d.opts.ProcRoot, "sys/net/ipv6/conf", iface, "accept_ra")
	if err := os.WriteFile(p, []byte("2"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Warn("IPv6 router advertisements on the cellular link", "err", err)
	}
}
