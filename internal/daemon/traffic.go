package daemon

import (
	"context"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/linkstats"
)

// sampleTraffic reads the cellular link's counters once a second for as long
// as the daemon runs, across sessions, and hands every sample to the
// consumers of traffic: the status, the data meter and the current
// session's prober (passive detection). One sampler, so every consumer sees
// the same bytes.
func (d *Daemon) sampleTraffic(ctx context.Context) {
	var pw proberFeed
	linkstats.Run(ctx, d.opts.LinkStats, d.cellIface, linkstats.Interval,
		func(err error) { d.log.Debug("link counters", "err", err) },
		d.st.setTraffic, d.countTraffic, func(s linkstats.Sample) { pw.feed(s, d.currentProber()) })
}

func (s *state) setTraffic(t linkstats.Sample) {
	s.mu.Lock()
	s.traffic = t
	s.mu.Unlock()
}

// currentProber is the online session's prober, nil while offline.
func (d *Daemon) currentProber() PathProber {
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	return d.prober
}

// proberFeed turns samples into the traffic between them, for the prober.
// Used from the sampling goroutine only.
type proberFeed struct{ prev linkstats.Sample }

// feed hands p the traffic since the previous sample; the first sample of
// a link only starts the count (Since: a re-created link starts again).
func (f *proberFeed) feed(s linkstats.Sample, p PathProber) {
	prev := f.prev
	f.prev = s
	if p == nil || prev.At.IsZero() || prev.Name != s.Name {
		return
	}
	c := s.Counters.Since(prev.Counters)
	p.Observe(health.Traffic{From: prev.At, To: s.At, RxPackets: c.RxPackets, TxPackets: c.TxPackets})
}
