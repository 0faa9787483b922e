// Package failover decides which uplink carries traffic when the Pi has
// two: the primary (the main router on the LAN, or a second interface to
// the ISP's modem) and the cellular link. It owns the `primary:` section of
// failberry.yaml (the watch on the primary path), the hysteresis of the
// decision both ways, and the outage drill; the daemon runs the watch's
// probes and applies what it decides (routes, policy rules, the conntrack
// flush of failback).
package failover

import (
	"time"

	"github.com/failberry/failberry/health/target"
	"github.com/failberry/failberry/internal/config/value"
)

// Config is the `primary:` section: how the primary path is watched in
// split and gateway mode. Its probes are bound to route.wired_interface, so
// they test the primary even while traffic leaves over cellular, and they
// never leave over cellular.
type Config struct {
	// Targets are probed through the primary; empty: health.probes.targets.
	// A primary whose ISP is up but has lost international transit (the
	// "partial outage" of the FailberryPi post) is caught only by targets
	// beyond the ISP's own network: choose at least two far ones.
	Targets []target.Target `yaml:"targets" hint:"[\"icmp:1.1.1.1\", \"icmp:8.8.8.8\"]"`
	// Quorum targets must answer for a round to pass; 0: a majority.
	Quorum int `yaml:"quorum" check:"0..1000" hint:"use how many targets must answer, or 0 for a majority"`
	// Interval between rounds while the primary passes; FailingInterval
	// while it fails or is in doubt. The primary is not metered, so it is
	// watched much more often than the cellular link.
	Interval        value.Duration `yaml:"interval" check:"1s.." hint:"5s"`
	FailingInterval value.Duration `yaml:"failing_interval" check:"1s.." hint:"1s"`
	Timeout         value.Duration `yaml:"timeout" check:"100ms.." hint:"1s"`
	// DownAfter failed rounds in a row make the primary down: traffic
	// fails over.
	DownAfter int `yaml:"down_after" check:"1..1000" hint:"use a number of failed rounds of at least 1, such as 3"`
	// Hold is how long the primary must pass without a failed round before
	// traffic moves back to it, so a flapping line does not drag every
	// long-lived session back and forth.
	Hold value.Duration `yaml:"hold" check:"1s.." hint:"1m"`
}

// DefaultConfig is the section's defaults: with them, a dead primary is
// failed over from within about 10 s (one round's wait, then three failed
// rounds a second apart with their timeouts), and failed back a minute
// after it answers again.
func DefaultConfig() Config {
	s := func(d time.Duration) value.Duration { return value.Duration(d) }
	return Config{Interval: s(5 * time.Second), FailingInterval: s(time.Second), Timeout: s(time.Second), DownAfter: 3, Hold: s(time.Minute)}
}
