//go:build bench

package bench_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/failberry/failberry/modem/sim"
)

// The recovery ladder against the faults cheap modems really have: firmware
// that hangs (the tty stays, nothing answers) and a modem that falls off the
// USB bus. Only cutting the hub port's power brings either back.

func TestDaemonRecoversHungModemByPowerCycle(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	setupNetworks(t, ctx, vm)
	start := startDaemon(t, ctx, vm, "")
	lanReachesInternet(t, ctx, vm, start, 60*time.Second)
	faultAt := time.Now()
	vm.Modem.SetFault(sim.FaultHang)
	// While the modem is off, another USB serial device takes ttyUSB0: the
	// modem must be found again under its new name.
	waitFor(t, 90*time.Second, "the modem's port is switched off", func() bool { return !vm.Modem.Snapshot().Powered })
	if err := vm.PlugDecoy(ctx); err != nil {
		t.Fatal(err)
	}
	back := lanReachesInternet(t, ctx, vm, faultAt, 150*time.Second)
	t.Logf("scenario hang-power-cycle: hang fault -> lan reaches internet again in %v", back.Round(100*time.Millisecond))
	if n := powerOffs(t, vm); n < 1 {
		t.Fatalf("no ClearPortFeature(PORT_POWER) on hub port 2 in qemu's trace")
	}
	log := daemonLog(t, vm)
	if !regexp.MustCompile(`msg="modem re-enumerated" tty=/dev/ttyUSB1 hub=1-1 port=2`).MatchString(log) {
		t.Errorf("the modem did not come back as /dev/ttyUSB1 on hub 1-1 port 2:\n%s", log)
	}
	if !regexp.MustCompile(`recovery-step .*next power-cycle attempt 1`).MatchString(log) {
		t.Errorf("no power-cycle recovery event in the log")
	}

	// The decoy has nothing on its far end and swallows what it is sent,
	// as a real adapter's line does: 64 KiB written to it (over a thousand
	// USB packets, more than qemu's socket buffer holds) leave the VM
	// running and the link up. The soak froze the VM here when the bench
	// did not read the decoy's socket.
	guest(t, ctx, vm, 60*time.Second, `head -c 65536 /dev/zero > /dev/ttyUSB0`)
	lanReachesInternet(t, ctx, vm, time.Now(), 10*time.Second)
}

func TestDaemonRecoversModemOffTheBus(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	setupNetworks(t, ctx, vm)
	start := startDaemon(t, ctx, vm, "")
	lanReachesInternet(t, ctx, vm, start, 60*time.Second)

	faultAt := time.Now()
	if err := vm.DropOffBus(); err != nil {
		t.Fatal(err)
	}
	waitGuest(t, ctx, vm, 10*time.Second, `! test -e /dev/ttyUSB0`)
	back := lanReachesInternet(t, ctx, vm, faultAt, 150*time.Second)
	t.Logf("scenario off-bus: modem drops off the bus -> lan reaches internet again in %v", back.Round(100*time.Millisecond))
	if n := powerOffs(t, vm); n < 1 {
		t.Fatalf("no ClearPortFeature(PORT_POWER) on hub port 2 in qemu's trace")
	}
}

func daemonLog(t *testing.T, vm interface{ WorkDir() string }) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vm.WorkDir(), "failberry.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A modem that keeps PPP's LCP alive but passes no IP ("connected, no
// traffic") is only caught by the probes; the ladder then redials.
func TestDaemonProbesCatchBlackholedPath(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	setupNetworks(t, ctx, vm)
	start := startDaemon(t, ctx, vm, "")
	lanReachesInternet(t, ctx, vm, start, 60*time.Second)
	time.Sleep(6 * time.Second) // let the probes settle into their healthy interval

	faultAt := time.Now()
	vm.Modem.SetFault(sim.FaultBlackhole)
	waitFor(t, 60*time.Second, "the probes declare the path down", func() bool {
		return regexp.MustCompile(`msg="path-down`).MatchString(daemonLog(t, vm))
	})
	detect := time.Since(faultAt)
	// Window with the bench's probe settings: one healthy interval (5s) to
	// notice, then down_after (3) rounds of failing_interval (1s) + timeout (1s).
	const window = 5*time.Second + 3*(time.Second+time.Second)
	t.Logf("scenario blackhole: detected in %v (configured window %v)", detect.Round(100*time.Millisecond), window)
	if detect > window+5*time.Second {
		t.Errorf("detection took %v, beyond the configured window %v", detect, window)
	}
	waitFor(t, 10*time.Second, "the path failure is handed to the recovery ladder", func() bool {
		return regexp.MustCompile(`recovery-step .*\(path\): next redial`).MatchString(daemonLog(t, vm))
	})
	if regexp.MustCompile(`pppd exited 15`).MatchString(daemonLog(t, vm)) {
		t.Errorf("pppd's LCP echo caught it, not the probes: the fault is not a black hole")
	}
	vm.Modem.SetFault(sim.FaultNone)
	lanReachesInternet(t, ctx, vm, time.Now(), 90*time.Second)
}
