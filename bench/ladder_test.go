//go:build bench

package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// The recovery ladder under real systemd, read from the journal: a fault
// that persists climbs (redial, modem reset, power cycle), a link that flaps
// climbs too, and the ladder starts over only once the path stayed healthy
// for recovery.healthy_after. One VM runs the three scenarios one after the
// other; the daemon is restarted (a fresh ladder) between them.
func TestDaemonLadderUnderSystemd(t *testing.T) {
	ctx, vm := startVMWith(t, sim.Config{}, true)
	waitGuest(t, ctx, vm, 60*time.Second, `systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active bench.target`)
	setupNetworks(t, ctx, vm)
	installUnit(t, ctx, vm, bench.DaemonConfig(""))

	t.Run("flapping-link", func(t *testing.T) { flappingLinkClimbs(t, ctx, vm) })
	if t.Failed() {
		return
	}
	// A fresh ladder, restarted from a link that is up: pppd then ends the
	// call as the daemon stops. Stopped mid-dial, the daemon would leave the
	// simulated modem in data mode, where a real modem hangs up on the DTR
	// drop of the closed tty, which the simulator cannot see.
	lanReachesInternet(t, ctx, vm, time.Now(), 90*time.Second)
	guest(t, ctx, vm, 60*time.Second, `systemctl restart failberry`)
	t.Run("persistent-blackhole", func(t *testing.T) { persistentBlackholeClimbs(t, ctx, vm) })
	if t.Failed() {
		return
	}
	// Continues from the power cycle the black hole led to.
	t.Run("cleared-fault", func(t *testing.T) { clearedFaultResetsAfterHealthy(t, ctx, vm) })
}

// flappingLinkClimbs: the link comes up and passes traffic for a few seconds
// (far less than healthy_after), then the carrier drops the call, again and
// again. Each drop must take the ladder one attempt further, up to the modem
// reset, instead of "redial attempt 1" forever.
func flappingLinkClimbs(t *testing.T, ctx context.Context, vm *bench.VM) {
	start := time.Now()
	since := guestNow(t, ctx, vm)
	want := climb(bench.RedialAttempts, 1, 0)
	for flap := 1; ; flap++ {
		waitGuest(t, ctx, vm, 90*time.Second, bench.LanPing)
		up := time.Now()
		// Traffic passes for a few seconds...
		out := guest(t, ctx, vm, 20*time.Second, `ip netns exec lan ping -c 3 -i 1 -W 2 198.51.100.10`)
		if !strings.Contains(out, " 0% packet loss") {
			t.Fatalf("flap %d: the link is up but lost packets:\n%s", flap, out)
		}
		// ...then the carrier ends the call (NO CARRIER; new calls connect).
		vm.Modem.SetFault(sim.FaultCarrierDrop)
		vm.Modem.SetFault(sim.FaultNone)
		t.Logf("flap %d: up %v, then the carrier dropped the call", flap, time.Since(up).Round(100*time.Millisecond))
		var steps []stepEvent
		waitFor(t, 60*time.Second, fmt.Sprintf("recovery step %d in the journal", flap), func() bool {
			steps = recoverySteps(t, ctx, vm, since)
			return len(steps) >= flap
		})
		if len(steps) > flap {
			t.Fatalf("flap %d: %d recovery steps, want one per drop:\n%s", flap, len(steps), stepsText(steps))
		}
		if len(steps) == len(want) {
			break
		}
	}
	steps := recoverySteps(t, ctx, vm, since)
	if got := stepsText(steps); !stepsMatch(steps, want) {
		t.Errorf("a flapping link's recovery steps (journal, MESSAGE_ID=%s):\n%s\nwant:\n%s", systemd.RecoveryStep.ID, got, stepsText(want))
	}
	t.Logf("scenario flapping-link: %d drops climbed to %s attempt %d in %v",
		len(steps), steps[len(steps)-1].Step, steps[len(steps)-1].Attempt, time.Since(start).Round(100*time.Millisecond))
}

// persistentBlackholeClimbs: the carrier keeps PPP up (LCP echoes answered)
// and drops every IP packet, and leaves it that way. The probes catch each
// new link; the ladder climbs redial, modem reset, power cycle, and the
// emulated hub really cuts the port's power.
func persistentBlackholeClimbs(t *testing.T, ctx context.Context, vm *bench.VM) {
	start := time.Now()
	since := guestNow(t, ctx, vm)
	lanReachesInternet(t, ctx, vm, start, 90*time.Second)
	offs := powerOffTimes(t, vm)
	setBlackhole(t, ctx, vm, true)
	faultAt := time.Now()
	if out, err := vm.Run(ctx, 10*time.Second, `ip netns exec lan ping -c 2 -W 1 198.51.100.10`); err == nil {
		t.Fatalf("the lan host still reaches the internet through the carrier's black hole:\n%s", out)
	}
	var cut []time.Time
	waitFor(t, 180*time.Second, "the modem's port power is cut (qemu hub trace)", func() bool {
		cut = powerOffTimes(t, vm)[len(offs):]
		return len(cut) > 0
	})
	// The cleared-fault scenario goes on from here: the carrier clears the
	// black hole while the modem is off, before it is back and dialled.
	clearBlackhole(t, ctx, vm)
	steps := recoverySteps(t, ctx, vm, since)
	want := withReason(climb(bench.RedialAttempts, bench.ModemResetAttempts, 1), "path")
	if len(steps) > len(want) && stepsMatch(steps[:len(want)], want) {
		t.Fatalf("the black hole was cleared %v after the power cut, too late: the ladder went on:\n%s",
			time.Since(cut[0]).Round(100*time.Millisecond), stepsText(steps))
	}
	if got := stepsText(steps); !stepsMatch(steps, want) {
		t.Fatalf("a persistent black hole's recovery steps (journal, MESSAGE_ID=%s):\n%s\nwant:\n%s", systemd.RecoveryStep.ID, got, stepsText(want))
	}
	off := guestOffset(t, ctx, vm)
	pc := steps[len(steps)-1].At.Add(-off) // in host time
	if d := cut[0].Sub(pc); d < 0 || d > 30*time.Second {
		t.Errorf("the port's power went off %v after the power-cycle event", d)
	}
	t.Logf("scenario persistent-blackhole: black hole -> %d steps, power cut %v after the fault (%v after the power-cycle event)",
		len(steps), cut[0].Sub(faultAt).Round(100*time.Millisecond), cut[0].Sub(pc).Round(time.Millisecond))
	t.Logf("scenario persistent-blackhole: %v", time.Since(start).Round(100*time.Millisecond))
}

// clearBlackhole clears the carrier's black hole and logs how long it took.
func clearBlackhole(t *testing.T, ctx context.Context, vm *bench.VM) {
	t.Helper()
	setBlackhole(t, ctx, vm, false)
}

func setBlackhole(t *testing.T, ctx context.Context, vm *bench.VM, on bool) {
	t.Helper()
	start := time.Now()
	if err := vm.CarrierBlackhole(ctx, on); err != nil {
		t.Fatal(err)
	}
	t.Logf("carrier black hole on=%v (%v)", on, time.Since(start).Round(10*time.Millisecond))
}

// clearedFaultResetsAfterHealthy picks up after the power cycle: the carrier
// has cleared the black hole (persistentBlackholeClimbs does it as soon as
// the power is cut), the lan reaches the internet again, and the ladder
// stays where it was until the path has been healthy for healthy_after. A
// black hole back as soon as the link is up goes on climbing (the second
// power cycle); one that comes after healthy_after starts at redial 1.
func clearedFaultResetsAfterHealthy(t *testing.T, ctx context.Context, vm *bench.VM) {
	start := time.Now()
	since := guestNow(t, ctx, vm)
	healthy := bench.HealthyAfter
	offs := len(powerOffTimes(t, vm))
	back := lanReachesInternet(t, ctx, vm, start, 120*time.Second)
	t.Logf("black hole cleared at the power cut: lan reaches the internet in %v", back.Round(100*time.Millisecond))
	upAt := time.Now()
	if steps := recoverySteps(t, ctx, vm, since); len(steps) > 0 {
		t.Fatalf("recovery steps while the link came back without a fault:\n%s", stepsText(steps))
	}

	// Before healthy_after: the climb goes on.
	setBlackhole(t, ctx, vm, true)
	var steps []stepEvent
	waitFor(t, 60*time.Second, "a recovery step for the black hole back before healthy_after", func() bool {
		steps = recoverySteps(t, ctx, vm, since)
		return len(steps) >= 1
	})
	early := []stepEvent{{Step: "power-cycle", Attempt: 2, Reason: "path"}}
	if got := stepsText(steps); !stepsMatch(steps, early) {
		t.Fatalf("black hole back %v after the link came up (healthy_after %v): steps\n%s\nwant (the climb goes on):\n%s",
			time.Since(upAt).Round(100*time.Millisecond), healthy, got, stepsText(early))
	}
	if lead := steps[0].At.Add(-guestOffset(t, ctx, vm)).Sub(upAt); lead >= healthy {
		t.Fatalf("the path was declared down %v after the link came up, not before healthy_after %v: the bench cannot tell", lead, healthy)
	}
	waitFor(t, 60*time.Second, "the second power cut (qemu hub trace)", func() bool { return len(powerOffTimes(t, vm)) > offs })
	clearBlackhole(t, ctx, vm)
	lanReachesInternet(t, ctx, vm, time.Now(), 120*time.Second)
	upAt = time.Now()

	// After healthy_after: the ladder has started over.
	wait := healthy + 5*time.Second // margin: the path-up comes within a probe round of the lan's first ping
	t.Logf("link back; black hole again in %v (healthy_after %v)", wait, healthy)
	// Meanwhile the lan keeps reaching the internet (and the path passes its probes).
	for time.Since(upAt) < wait {
		guest(t, ctx, vm, 10*time.Second, bench.LanPing)
		time.Sleep(2 * time.Second)
	}
	setBlackhole(t, ctx, vm, true)
	waitFor(t, 60*time.Second, "a recovery step for the black hole back after healthy_after", func() bool {
		steps = recoverySteps(t, ctx, vm, since)
		return len(steps) >= 2
	})
	late := append(early, stepEvent{Step: "redial", Attempt: 1, Reason: "path"})
	if got := stepsText(steps); !stepsMatch(steps, late) {
		t.Fatalf("black hole back after healthy_after %v: steps\n%s\nwant (the ladder starts over at redial 1):\n%s", healthy, got, stepsText(late))
	}
	clearBlackhole(t, ctx, vm)
	lanReachesInternet(t, ctx, vm, time.Now(), 90*time.Second)
	t.Logf("scenario cleared-fault: %v (healthy_after %v)", time.Since(start).Round(100*time.Millisecond), healthy)
}

// installUnit installs the daemon as the .deb does (binary, config, the
// project's own failberry.service) and starts it under systemd.
func installUnit(t *testing.T, ctx context.Context, vm *bench.VM, cfg string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(vm.Work, "failberry.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := copyTo(filepath.Join(bench.SourceDir(), "systemd", "failberry.service"), filepath.Join(vm.Work, "failberry.service")); err != nil {
		t.Fatal(err)
	}
	guest(t, ctx, vm, 60*time.Second, `set -e
install -m 755 /mnt/bin/failberry /usr/sbin/failberry
install -d /etc/failberry && install -m 600 /mnt/failberry.yaml /etc/failberry/failberry.yaml
install -m 644 /mnt/failberry.service /etc/systemd/system/failberry.service
systemctl daemon-reload
systemctl start failberry`)
}

// stepEvent is one recovery-step event from the journal.
type stepEvent struct {
	At      time.Time // the guest's clock
	Step    string
	Attempt int
	Reason  string
}

func (s stepEvent) String() string {
	r := ""
	if s.Reason != "" {
		r = " (" + s.Reason + ")"
	}
	return fmt.Sprintf("%s %d%s", s.Step, s.Attempt, r)
}

// stepsMatch compares steps and attempts, and reasons where want names one.
func stepsMatch(got, want []stepEvent) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Step != want[i].Step || got[i].Attempt != want[i].Attempt || (want[i].Reason != "" && got[i].Reason != want[i].Reason) {
			return false
		}
	}
	return true
}

func stepsText(s []stepEvent) string {
	var b strings.Builder
	for _, e := range s {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// climb is the ladder's expected steps: redials attempts of redial, then
// resets, then power cycles, each numbered from 1. No reason: see withReason.
func climb(redials, resets, cycles int) []stepEvent {
	var out []stepEvent
	for i := 1; i <= redials; i++ {
		out = append(out, stepEvent{Step: "redial", Attempt: i})
	}
	for i := 1; i <= resets; i++ {
		out = append(out, stepEvent{Step: "modem-reset", Attempt: i})
	}
	for i := 1; i <= cycles; i++ {
		out = append(out, stepEvent{Step: "power-cycle", Attempt: i})
	}
	return out
}

func withReason(s []stepEvent, reason string) []stepEvent {
	for i := range s {
		s[i].Reason = reason
	}
	return s
}

// recoverySteps reads the recovery-step events (by MESSAGE_ID) the journal
// has since the guest time sinceUsec, oldest first.
func recoverySteps(t *testing.T, ctx context.Context, vm *bench.VM, sinceUsec int64) []stepEvent {
	t.Helper()
	return stepsOf(t, journalOf(t, ctx, vm, sinceUsec, systemd.RecoveryStep))
}

// stepsOf picks the recovery-step events out of journal entries.
func stepsOf(t testing.TB, entries []journalEntry) []stepEvent {
	t.Helper()
	var steps []stepEvent
	for _, e := range entries {
		if e.str("MESSAGE_ID") != systemd.RecoveryStep.ID {
			continue
		}
		attempt, err := strconv.Atoi(e.str("FAILBERRY_ATTEMPT"))
		if err != nil {
			t.Fatalf("recovery-step event without a FAILBERRY_ATTEMPT number: %v", e)
		}
		steps = append(steps, stepEvent{At: e.at(), Step: e.str("FAILBERRY_STEP"), Attempt: attempt, Reason: e.str("FAILBERRY_REASON")})
	}
	return steps
}

// guestNow is the guest's clock in microseconds, the journal's unit.
func guestNow(t *testing.T, ctx context.Context, vm *bench.VM) int64 {
	t.Helper()
	us, err := strconv.ParseInt(strings.TrimSpace(guest(t, ctx, vm, 5*time.Second, `date +%s%6N`)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return us
}

func guestOffset(t *testing.T, ctx context.Context, vm *bench.VM) time.Duration {
	t.Helper()
	off, err := vm.GuestClockOffset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

func powerOffTimes(t *testing.T, vm *bench.VM) []time.Time {
	t.Helper()
	ts, err := vm.PowerOffTimes()
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
