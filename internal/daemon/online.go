package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/pppd"
	"github.com/failberry/failberry/systemd"
)

var (
	// errPathDown: pppd is up but the probes fail ("connected, no traffic").
	errPathDown = errors.New("cellular path down: probes fail over the link")
	// errLinkTimeout: pppd ran but the interface never came up with an address.
	errLinkTimeout = errors.New("PPP link did not come up")
)

// online supervises a running pppd: it installs the default route when the
// interface comes up, runs the probes over it, and returns when pppd exits,
// the probes declare the path down, or ctx ends. pppd is always stopped and
// the route withdrawn before it returns.
func (d *Daemon) online(ctx context.Context, proc *pppd.Process) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	links := make(chan route.Link, 16)
	iface := pppd.Interface(d.pppdOptions())
	go func() {
		err := route.WatchLink(ctx, iface, func(l route.Link) {
			select {
			case links <- l:
			case <-ctx.Done():
			}
		})
		if err != nil && ctx.Err() == nil {
			d.log.Error("watching the ppp link", "err", err)
		}
	}()
	s := &onlineSession{d: d, proc: proc}
	defer s.end()
	err := s.loop(ctx, links)
	s.dead = errors.Is(err, errPathDown)
	return err
}

// onlineSession is the state of one online period.
type onlineSession struct {
	d       *Daemon
	proc    *pppd.Process
	link    route.Link // the last ready link, zero until up
	changes <-chan bool
	stopPr  context.CancelFunc
	raIndex int // the link whose accept_ra was set
	// proof fires once the path has passed its probes and stayed up for
	// healthyAfter: only then did the last recovery step work, and the
	// ladder starts over. Nil until armed, and again once proven.
	proof *time.Timer
	// dead is set when the session ends because the path is known dead, so
	// end does not wait for courtesies that cannot come.
	dead bool
}

func (s *onlineSession) loop(ctx context.Context, links <-chan route.Link) error {
	upTimer := time.NewTimer(linkUpTimeout)
	defer upTimer.Stop()
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.proc.Done():
			return fmt.Errorf("pppd: %w", s.proc.Wait())
		case l := <-links:
			if err := s.linkChanged(ctx, l); err != nil {
				return err
			}
			if s.link.Ready() {
				upTimer.Stop()
			}
		case up := <-s.changes:
			if !up {
				s.d.events.Emit(systemd.PathDown, "cellular path fails its probes: the link is up but passes no traffic",
					map[string]string{"INTERFACE": s.link.Name})
				return errPathDown
			}
			s.d.events.Emit(systemd.PathUp, "cellular path passes its probes", map[string]string{"INTERFACE": s.link.Name})
			s.armProof()
		case <-s.proofC():
			s.proven()
		case <-upTimer.C:
			return errLinkTimeout
		case <-tick.C:
			s.d.beat.Beat()
			if s.link.Ready() { // put back a route deleted behind our back
				if err := s.d.routes.Apply(s.link); err != nil {
					s.d.log.Warn("default route", "err", err)
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// linkChanged reacts to the ppp interface appearing, getting its address,
// changing it, or going away. Every change of a ready link re-applies the
// route: pppd sets the local address and the peer in two steps, and the
// kernel flushes routes through the link in between, so a route installed on
// the first step would silently vanish.
func (s *onlineSession) linkChanged(ctx context.Context, l route.Link) error {
	s.d.st.setLink(l)
	if l.Index > 0 && l.Index != s.raIndex && s.d.cfg.Route.IPv6 {
		s.raIndex = l.Index
		s.d.acceptRA(l.Name)
	}
	switch {
	case l.Ready() && !s.link.Ready():
		return s.up(ctx, l)
	case l.Ready():
		if l.Local != s.link.Local {
			s.d.log.Info("cellular address changed", "old", s.link.Local, "new", l.Local)
			flushConntrack(s.d, s.link.Local)
		}
		s.link = l
		return s.d.routes.Apply(l)
	case s.link.Ready():
		s.d.log.Info("ppp link lost its address or went down", "interface", l.Name)
	}
	return nil
}

func (s *onlineSession) up(ctx context.Context, l route.Link) error {
	d := s.d
	if err := d.routes.Apply(l); err != nil {
		return fmt.Errorf("default route via %s: %w", l.Name, err)
	}
	s.link = l
	info := d.st.snapshotInfo()
	d.setPhase(PhaseOnline, statusLine(l, info))
	d.events.Emit(systemd.LinkUp, "cellular link up "+statusLine(l, info), map[string]string{
		"INTERFACE": l.Name, "LOCAL": l.Local.String(), "PEER": l.Peer.String(), "OPERATOR": info.Operator,
	})
	if !s.startProber(ctx, l.Name) {
		s.armProof() // no probes: staying up is the only proof there is
	}
	return nil
}

// armProof starts the healthy_after clock, once per session.
func (s *onlineSession) armProof() {
	if s.proof == nil {
		s.proof = time.NewTimer(s.d.healthyAfter)
	}
}

// proofC is the proof timer's channel, nil (never ready) when not armed.
func (s *onlineSession) proofC() <-chan time.Time {
	if s.proof == nil {
		return nil
	}
	return s.proof.C
}

// proven resets the ladder: the path passed its probes and stayed up for
// healthyAfter, so whatever step brought it back worked. A link that comes
// up but fails again sooner keeps climbing instead of redialling forever.
func (s *onlineSession) proven() {
	d := s.d
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
	p := health.NewProber(cfg, s.d.log.With("component", "probe"))
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
	if s.proof != nil {
		s.proof.Stop()
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
		d.log.Debug("stopping pppd", "err", err)
	}
	if err := d.routes.Withdraw(); err != nil {
		d.log.Error("withdrawing the default route", "err", err)
	}
	d.st.setLink(route.Link{})
	if s.link.Ready() {
		flushConntrack(d, s.link.Local)
		d.events.Emit(systemd.LinkDown, "cellular link down", map[string]string{"INTERFACE": s.link.Name, "LOCAL": s.link.Local.String()})
	}
}

// flushConntrack forgets the connections of an address the link no longer
// has, so NATed sessions re-establish at once instead of black-holing.
func flushConntrack(d *Daemon, addr netip.Addr) {
	if !addr.IsValid() {
		return
	}
	n, err := firewall.FlushConntrack(addr)
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
	p := filepath.Join("/proc/sys/net/ipv6/conf", iface, "accept_ra")
	if err := os.WriteFile(p, []byte("2"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Warn("IPv6 router advertisements on the cellular link", "err", err)
	}
}
