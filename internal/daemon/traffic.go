package daemon

import (
	"context"

	"github.com/failberry/failberry/internal/linkstats"
)

// sampleTraffic reads the cellular link's counters once a second for as long
// as the daemon runs, across sessions, and hands every sample to the
// consumers of traffic: the status and the data meter. One sampler, so every consumer sees
// the same bytes.
func (d *Daemon) sampleTraffic(ctx context.Context) {
	linkstats.Run(ctx, d.opts.LinkStats, d.cellIface, linkstats.Interval,
		func(err error) { d.log.Debug("link counters", "err", err) },
		d.st.setTraffic, d.countTraffic)
}

func (s *state) setTraffic(t linkstats.Sample) {
	s.mu.Lock()
	s.traffic = t
	s.mu.Unlock()
}
