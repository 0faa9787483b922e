package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DaemonConfig is the failberry.yaml the daemon runs with on the bench: the
// defaults, with probes aimed at the bench's internet host and timers short
// enough for a test. extraModem adds lines to the modem section.
func DaemonConfig(extraModem string) string {
	return fmt.Sprintf(daemonConfig, extraModem) + RecoverySection
}

const daemonConfig = `modem:
  apn: internet
%s
firewall:
  reconcile_interval: 3s
ppp:
  lcp_echo_interval: 1
  lcp_echo_failure: 3
health:
  listen: ":9000"
  status_listen: "127.0.0.1:9001"
  probes:
    targets: ["icmp:198.51.100.10", "tcp:198.51.100.10:80"]
    quorum: 1
    interval: 5s
    failing_interval: 1s
    timeout: 1s
    max_latency: 1s
    down_after: 3
    up_after: 1
    budget_bytes_per_day: 0
`

// The bench's recovery ladder: short backoffs. The scenarios derive the
// attempt numbers they expect from these.
const (
	RedialAttempts     = 2
	ModemResetAttempts = 1
	PowerCycleAttempts = 2
)

// HealthyAfter is the bench's recovery.healthy_after: longer than one
// black-hole detection (healthy interval, then down_after failing rounds: at
// most about 11 s on the bench), so a fault injected as the link comes back
// is caught before the proof.
const HealthyAfter = 20 * time.Second

// RecoverySection is the bench's recovery ladder: short backoffs.
var RecoverySection = fmt.Sprintf(`recovery:
  redial: {attempts: %d, backoff: 1s, max_backoff: 2s}
  modem_reset: {attempts: %d, backoff: 1s, max_backoff: 1s}
  power_cycle: {attempts: %d, backoff: 1s, max_backoff: 2s, off_time: 1s}
  sim_retry: 1m
  healthy_after: %v
`, RedialAttempts, ModemResetAttempts, PowerCycleAttempts, HealthyAfter)

// Script is the guest's path of one of the bench's guest scripts: Start
// copies them into the shared work directory, because the source tree may
// sit where the guest cannot see it (under /tmp, which the guest mounts anew).
func Script(name string) string { return "/mnt/guest/" + name }

// SetupNetworks builds the lan and isp namespaces, starts the carrier's pppd
// and a TCP service on the internet host (port 80, for the probes).
func (vm *VM) SetupNetworks(ctx context.Context) error {
	if _, err := vm.Run(ctx, 20*time.Second, Script("topology.sh")); err != nil {
		return err
	}
	if _, err := vm.Background(ctx, "pppd-carrier.log", "exec "+Script("carrier.sh")); err != nil {
		return err
	}
	_, err := vm.Background(ctx, "internet-http.log",
		`exec ip netns exec isp socat TCP-LISTEN:80,bind=198.51.100.10,fork,reuseaddr SYSTEM:'echo HTTP/1.0 204 No Content; echo'`)
	return err
}

// StartDaemon writes cfg as /mnt/failberry.yaml and starts `failberry run`
// in the background, its output in logName.
func (vm *VM) StartDaemon(ctx context.Context, cfg, logName string) error {
	if err := os.WriteFile(filepath.Join(vm.Work, "failberry.yaml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	_, err := vm.Background(ctx, logName, `exec /mnt/bin/failberry run --config /mnt/failberry.yaml`)
	return err
}

// Await polls a guest condition until it holds and returns how long it took.
func (vm *VM) Await(ctx context.Context, timeout time.Duration, cond string) (time.Duration, error) {
	start := time.Now()
	var lastErr error
	for time.Since(start) < timeout {
		if _, lastErr = vm.Run(ctx, 10*time.Second, cond); lastErr == nil {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("not within %v: %s: %w", timeout, cond, lastErr)
}

// CarrierBlackhole makes the carrier drop every IP packet to and from the
// gateway (iptables and ip6tables DROP on its ppp interfaces, in the isp
// namespace) while its pppd keeps answering LCP: "connected, no traffic" that
// lives in the network, so it survives modem resets and power cycles. off
// clears it.
func (vm *VM) CarrierBlackhole(ctx context.Context, on bool) error {
	arg := "off"
	if on {
		arg = "on"
	}
	_, err := vm.Run(ctx, 60*time.Second, Script("carrier-blackhole.sh")+" "+arg)
	return err
}

// LanPing is the guest condition "the lan host reaches the internet host".
const LanPing = `ip netns exec lan ping -c 1 -W 1 198.51.100.10`
