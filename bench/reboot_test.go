//go:build bench

package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
)

// rebootRecovery: no redial backoff, no reset or power cycle, so a registration
// failure climbs straight to the reboot rung, whose command is a stand-in.
const rebootRecovery = `recovery:
  redial: {attempts: 1, backoff: 1s, max_backoff: 1s}
  modem_reset: {attempts: 0}
  power_cycle: {attempts: 0}
  reboot: {enabled: true, max_per_day: 1, min_uptime: 5m, command: ["/bin/sh", "-c", "date >> /mnt/reboots.log"]}
  sim_retry: 1m
`

// setUptime makes /proc/uptime say secs, so the minimum-uptime rule can be
// tested without waiting.
func setUptime(t *testing.T, ctx context.Context, vm *bench.VM, secs string) {
	t.Helper()
	guest(t, ctx, vm, 5*time.Second, `umount /proc/uptime 2>/dev/null; echo "`+secs+` 1.00" > /run/fake-uptime && mount --bind /run/fake-uptime /proc/uptime`)
}

func TestDaemonRebootStepLimits(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	vm.Modem.SetFault(sim.FaultRegDenied)
	setupNetworks(t, ctx, vm)
	cfg := strings.Replace(benchConfigWith(""), benchRecovery(), rebootRecovery, 1)
	if err := os.WriteFile(filepath.Join(vm.Work, "failberry.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	reboots := func() int {
		b, _ := os.ReadFile(filepath.Join(vm.Work, "reboots.log"))
		return strings.Count(string(b), "\n")
	}
	run := func(log string) {
		guest(t, ctx, vm, 40*time.Second, `pkill -x failberry; while pidof failberry >/dev/null; do sleep 0.2; done`)
		background(t, ctx, vm, log, `exec /mnt/bin/failberry run --config /mnt/failberry.yaml`)
	}
	refused := func(log string, why *regexp.Regexp) {
		t.Helper()
		waitFor(t, 60*time.Second, "the reboot step is refused: "+why.String(), func() bool {
			b, _ := os.ReadFile(filepath.Join(vm.Work, log))
			return why.Match(b)
		})
	}

	setUptime(t, ctx, vm, "600.00")
	run("failberry.log")
	waitFor(t, 60*time.Second, "the stand-in reboot command runs", func() bool { return reboots() == 1 })

	run("failberry-2.log") // a restarted daemon still counts today's reboot
	refused("failberry-2.log", regexp.MustCompile(`not rebooting.*reached recovery.reboot.max_per_day`))

	setUptime(t, ctx, vm, "60.00")
	guest(t, ctx, vm, 5*time.Second, `rm -f /var/lib/failberry/reboots.json`)
	run("failberry-3.log")
	refused("failberry-3.log", regexp.MustCompile(`not rebooting.*below recovery.reboot.min_uptime`))
	if n := reboots(); n != 1 {
		t.Fatalf("the stand-in reboot command ran %d times, want 1", n)
	}
}
