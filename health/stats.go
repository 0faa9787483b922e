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
	// BytesSpent counts bytes on the wire (IP and TCP/ICMP headers included,
	// PPP framing not) since start, as estimated per probe.
	BytesSpent uint64 `json:"bytes_spent"`
	// EstimatedBytesPerDay is EstimateBytesPerDay of the running config.
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
		BytesSpent:           p.bytes,
		EstimatedBytesPerDay: EstimateBytesPerDay(p.cfg),
	}
	for i, t := range p.cfg.Targets {
		ts := p.targets[i]
		s.Targets = append(s.Targets, TargetStats{Target: t.String(), OK: ts.lastOK, LastRTT: ts.lastRTT, Loss: ts.loss()})
	}
	return s
}

// Wire sizes used for byte accounting (IPv4, Linux TCP with timestamps).
const (
	icmpEchoBytes    = 20 + 8 + icmpPayloadLen // one echo request or reply
	tcpSynBytes      = 60                      // 20 IP + 20 TCP + 20 options
	tcpSegBytes      = 52                      // 20 IP + 20 TCP + 12 timestamp option
	tcpConnectBytes  = 2*tcpSynBytes + tcpSegBytes + 3*tcpSegBytes
	tcpRefusedBytes  = tcpSynBytes + 40
	httpRespEstimate = 512 // a small status page, for estimates only
)

// tcpFailBytes estimates the SYNs sent before timeout gives up (Linux initial
// RTO 1 s, doubling).
func tcpFailBytes(timeout time.Duration) int64 {
	syns, rto, elapsed := 1, time.Second, time.Second
	for elapsed <= timeout {
		syns++
		rto *= 2
		elapsed += rto
	}
	return int64(syns * tcpSynBytes)
}

func httpBytes(reqLen, respLen int) int64 {
	segs := (respLen + 1447) / 1448
	return int64(tcpConnectBytes + tcpSegBytes + reqLen + segs*tcpSegBytes + respLen + segs*tcpSegBytes)
}

// roundBytes returns the bytes of one round when every target answers and
// when none does.
func roundBytes(cfg ProberConfig) (ok, fail int64) {
	for _, t := range cfg.Targets {
		switch t.Kind {
		case "icmp":
			ok += 2 * icmpEchoBytes
			fail += icmpEchoBytes
		case "tcp":
			ok += tcpConnectBytes
			fail += tcpFailBytes(cfg.Timeout)
		case "http":
			ok += httpBytes(len(httpRequest(t.Addr)), httpRespEstimate)
			fail += tcpFailBytes(cfg.Timeout)
		}
	}
	return ok, fail
}

// EstimateBytesPerDay estimates the cellular data the probes use per day: the
// larger of a healthy day (Interval, every target answers) and a failing day
// (FailingInterval, no answers). PPP framing and the rounds spent recovering
// (UpAfter rounds at FailingInterval) are not counted. Zero fields take defaults.
func EstimateBytesPerDay(cfg ProberConfig) int64 {
	cfg = cfg.withDefaults()
	ok, fail := roundBytes(cfg)
	day := int64(24 * time.Hour)
	return max(day/int64(cfg.Interval)*ok, day/int64(cfg.FailingInterval)*fail)
}
