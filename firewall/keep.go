package firewall

import (
	"context"
	"time"
)

// Keep checks the rules every interval until ctx ends and restores whatever
// was deleted, flushed or added behind our back. It logs one event per pass
// that repaired something and stays silent while all is well (one log line
// per poll would wear out the SD card); a failing pass is logged once until
// the error changes. It returns ctx.Err() when ctx ends.
func (f *Firewall) Keep(ctx context.Context, r Ruleset, every time.Duration) error {
	if every <= 0 {
		every = 10 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastErr := ""
	for {
		changes, err := f.converge(ctx, r)
		if len(changes) > 0 {
			f.log.Warn("firewall rules repaired", "changes", changes)
			if f.Repaired != nil {
				f.Repaired(changes)
			}
		}
		if ctx.Err() != nil {
			// A pass cut short by the stop: its error (iptables-save
			// killed) is the stop's, not the rules'.
			return ctx.Err()
		}
		switch {
		case err != nil && err.Error() != lastErr:
			f.log.Error("firewall check failed", "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			f.log.Info("firewall check recovered")
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
