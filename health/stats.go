package health

import "time"

// TargetStats describes one probe target.
type TargetStats struct {
	Target  string        `json:"target"`
	OK      bool          `json:"ok"`
	LastRTT time.Duration `json:"last_rtt_ns"`
	// Loss is the fraction of the last LossWindow rounds without a timely answer.
	Loss float64 `json:"loss"`
}

// ProbeStats is a snapshot of the Prober for /status and /metrics.
type ProbeStats struct {
	State   string        `json:"state"`
	Healthy bool          `json:"healthy"`
	Rounds  uint64        `json:"rounds"`
	Targets []TargetStats `json:"targets"`
	// Skipped counts the healthy rounds that traffic coming back made
	// unnecessary (passive detection).
	Skipped uint64 `json:"skipped"`
	// BytesSpent counts the bytes the probes sent and received since start,
	// as the probes measured them (IP headers and PPP framing included).
	BytesSpent uint64 `json:"bytes_spent"`
	// EstimatedBytesPerDay is EstimateBytesPerDay of the running config
	// with each target's measured cost (the model until it answered).
	EstimatedBytesPerDay int64 `json:"estimated_bytes_per_day"`
}

// Snapshot returns the current stats.
func (p *Prober) Snapshot() ProbeStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := ProbeStats{
		State:                p.state,
		Healthy:              p.state == StateUp,
		Rounds:               p.rounds,
		Skipped:              p.skipped,
		BytesSpent:           p.bytes,
		EstimatedBytesPerDay: EstimateBytesPerDay(p.cfg, p.measuredCostLocked),
	}
	for i, t := range p.cfg.Targets {
		ts := p.targets[i]
		s.Targets = append(s.Targets, TargetStats{Target: t.String(), OK: ts.lastOK, LastRTT: ts.lastRTT, Loss: ts.loss()})
	}
	return s
}

// measuredCostLocked is the average measured cost of t's answered probes,
// the model before it answered; caller holds mu.
func (p *Prober) measuredCostLocked(t Target) int64 {
	for i, c := range p.cfg.Targets {
		if c == t && p.cost[i].n > 0 {
			return p.cost[i].sum / p.cost[i].n
		}
	}
	return modelCost(t)
}
