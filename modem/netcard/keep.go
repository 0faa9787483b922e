package netcard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// minRetry is the shortest wait between renewal attempts once T1 passed
// (RFC 2131 4.4.5 says half the time left, down to 60 s; a stick's leases
// are often short, so the floor is lower).
const minRetry = 2 * time.Second

// keep renews the lease at T1 and keeps trying until it ends. A renewal
// answered by a NAK, or none until the lease's end, loses the lease: the
// address is removed and Done closed. It returns when ctx ends.
func (l *Link) keep(ctx context.Context) {
	defer close(l.kept)
	for {
		lease := l.Lease()
		if !sleepUntil(ctx, lease.Obtained.Add(lease.T1)) {
			return
		}
		err := l.renew(ctx, lease)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if e := delAddr(l.h, l.link, lease.Addr); e != nil {
				l.log.Warn("removing the lost lease's address", "err", e)
			}
			l.finish(err)
			return
		}
	}
}

// renew tries to renew lease until it expires, waiting half the time left
// (at least minRetry) between attempts, as RFC 2131's RENEWING and
// REBINDING states do (nclient4 broadcasts each request, so any server on
// the stick's side may answer after T2).
func (l *Link) renew(ctx context.Context, lease Lease) error {
	exp := lease.expires()
	for {
		left := time.Until(exp)
		if left <= 0 {
			return fmt.Errorf("%w: %s on %s expired unrenewed", ErrLeaseLost, lease.Addr, l.cfg.Name)
		}
		rctx, cancel := context.WithTimeout(ctx, left)
		l.mu.Lock()
		raw := l.raw
		l.mu.Unlock()
		next, err := l.client.Renew(rctx, raw, l.modifiers()...)
		cancel()
		var nak *nclient4.ErrNak
		switch {
		case err == nil:
			if err := l.install(next); err != nil {
				return fmt.Errorf("%w: renewal: %v", ErrLeaseLost, err)
			}
			cur := l.Lease()
			l.log.Debug("lease renewed", "interface", l.cfg.Name, "addr", cur.Addr, "lifetime", cur.Lifetime)
			return nil
		case errors.As(err, &nak):
			return fmt.Errorf("%w: the stick refused to renew %s: %v", ErrLeaseLost, lease.Addr, err)
		case ctx.Err() != nil:
			return ctx.Err()
		}
		left = time.Until(exp)
		l.log.Debug("lease renewal unanswered", "interface", l.cfg.Name, "left", left.Round(time.Second), "err", err)
		if left > 0 && !sleepUntil(ctx, time.Now().Add(min(max(left/2, minRetry), left))) {
			return ctx.Err()
		}
	}
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
