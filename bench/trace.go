package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// powerOffRe is qemu's trace of a ClearPortFeature(PORT_POWER) on the modem's
// hub port, with the log backend's "pid@sec.usec:" prefix (-msg timestamp=on).
func powerOffRe(port int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`(?m)^\d+@(\d+)\.(\d{6}):usb_hub_clear_port_feature dev \d+, port %d, feature power$`, port))
}

// PowerOffTimes are the host times at which qemu's emulated hub switched the
// modem's port off, from its trace log: what the hub did, not what the
// daemon says it did.
func (vm *VM) PowerOffTimes() ([]time.Time, error) { return vm.PortPowerOffTimes(ModemHubPort) }

// PortPowerOffTimes is PowerOffTimes for another port of the hub (the
// network-card stick's, NetcardHubPort).
func (vm *VM) PortPowerOffTimes(port int) ([]time.Time, error) {
	b, err := os.ReadFile(vm.path("qemu-trace.log"))
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for _, m := range powerOffRe(port).FindAllStringSubmatch(string(b), -1) {
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		usec, _ := strconv.ParseInt(m[2], 10, 64)
		out = append(out, time.Unix(sec, usec*1000))
	}
	return out, nil
}

// GuestClockOffset is the guest's clock minus the host's, measured around
// one agent round trip (its midpoint), so guest timestamps (the journal,
// the daemon's log) compare with host ones (qemu's trace, the simulator).
func (vm *VM) GuestClockOffset(ctx context.Context) (time.Duration, error) {
	best := time.Duration(1<<63 - 1)
	var off time.Duration
	for range 3 {
		t0 := time.Now()
		out, err := vm.Run(ctx, 5*time.Second, `date +%s%N`)
		rtt := time.Since(t0)
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("guest clock: %q", out)
		}
		if rtt < best {
			best = rtt
			off = time.Unix(0, ns).Sub(t0.Add(rtt / 2))
		}
	}
	return off, nil
}
