//go:build bench

package bench_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/internal/daemon"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// TestSoak is issue 15's fault soak: one VM under real systemd, the daemon
// installed as its unit with the bench's short timers, and a seeded random
// sequence of faults from the catalogue (soakCatalogue), one or two at a
// time, at random moments. After every fault it checks, in the guest, what
// must hold again (soak.check). SOAK_FAULTS sets the length (default 15,
// `make soak` runs 200) and SOAK_SEED the sequence; a failure prints both
// and the step, so the run replays.
func TestSoak(t *testing.T) {
	n := envNumber(t, "SOAK_FAULTS", soakShort)
	seed := int64(envNumber(t, "SOAK_SEED", int(time.Now().UnixNano()%1e9)))
	plan := soakPlan(seed, n)
	t.Logf("soak: SOAK_FAULTS=%d SOAK_SEED=%d", n, seed)
	// A failure deadline, not a target: the worst bound of every step,
	// with the ladder's rest where it may come (soak.within).
	limit := 5 * time.Minute
	for _, st := range plan {
		limit += st.gap + st.offset + st.bound() + time.Minute
		if st.gap < soakHealthyAfter {
			limit += daemon.RestAfterLadder + st.bound()
		}
	}
	// Registered before the VM's cleanup so that it runs after its dump:
	// the replay line is the last of a failed run's output.
	s := &soak{t: t, doing: "booting the VM", stats: map[string]*soakStats{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("soak FAILED at step %d/%d (%s): replay with SOAK_SEED=%d SOAK_FAULTS=%d", s.step, n, s.doing, seed, n)
		}
	})
	s.ctx, s.vm = startVMFor(t, sim.Config{PIN: soakPIN}, true, limit, func(o *bench.Options) { o.Modem.Seed = seed })
	s.doing = "setup"
	s.setup()
	for i, st := range plan {
		s.step, s.doing = i+1, st.String()
		s.run(st)
	}
	s.step, s.doing = n, "the end of the run"
	s.finish()
}

// soakPIN locks the simulated SIM: every power cycle, reset and SIM reset
// makes the daemon enter it again.
const soakPIN = "2468"

// soakHealthyAfter is the soak's recovery.healthy_after: shorter than the
// bench's, so that a step that waits for the ladder to start over waits
// seconds, not tens of them.
const soakHealthyAfter = 5 * time.Second

// soakShort is the length of the short soak (make e2e): it leaves out the
// slow kinds (soakFault.slow), which only longer runs draw.
const soakShort = 15

// soakConfig is the bench's daemon config with the SIM's PIN, the soak's
// healthy_after and the reboot rung enabled with a stand-in command (it
// only logs), so "the daemon never reboots for a missing SIM" can fail.
func soakConfig() string {
	cfg := bench.DaemonConfig(`  pin: "` + soakPIN + `"`)
	cfg = strings.Replace(cfg, fmt.Sprintf("healthy_after: %v", bench.HealthyAfter), fmt.Sprintf("healthy_after: %v", soakHealthyAfter), 1)
	return strings.Replace(cfg, "  sim_retry:", `  reboot: {enabled: true, max_per_day: 24, min_uptime: 5m, command: ["/bin/sh", "-c", "date >> /mnt/reboots.log"]}
  sim_retry:`, 1)
}

// envNumber reads a count from the environment; unlike envInt (the
// benchmarks'), a value that is not a number fails the test.
func envNumber(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// soakStep is one step of the plan: one fault or two at once, injected
// gap after the lan was back from the step before (the checks run in
// the gap), the second offset after the first.
type soakStep struct {
	faults      []*soakFault
	gap, offset time.Duration
}

func (st soakStep) String() string {
	names := make([]string, len(st.faults))
	for i, f := range st.faults {
		names[i] = f.name
	}
	return strings.Join(names, "+")
}

// bound is the step's recovery bound: its slowest fault's.
func (st soakStep) bound() time.Duration {
	var b time.Duration
	for _, f := range st.faults {
		b = max(b, f.bound)
	}
	return b
}

// soakPlan draws n steps from the catalogue with the seed. Each fault kind
// is equally likely; "two at once" pairs any fault with one that leaves the
// simulator's fault slot free (the carrier, pppd, the firewall, the route,
// the daemon). Most steps wait until the ladder has started over
// (recovery.healthy_after) before the fault; one in four comes at once.
// Runs of up to soakShort faults leave the slow kinds out.
func soakPlan(seed int64, n int) []soakStep {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x50a6))
	var cat, free []*soakFault
	for _, f := range soakCatalogue() {
		if n > soakShort || !f.slow {
			cat = append(cat, f)
		}
	}
	for _, f := range cat {
		if !f.slot {
			free = append(free, f)
		}
	}
	plan := make([]soakStep, n)
	for i := range plan {
		st := &plan[i]
		k := rng.IntN(len(cat) + 1)
		if k < len(cat) {
			st.faults = []*soakFault{cat[k]}
		} else { // two at once
			a := cat[rng.IntN(len(cat))]
			b := free[rng.IntN(len(free))]
			// A refusal (the SIM out) rules out a fault that needs a power cut.
			for b == a || (a.refuse && b.powerCut) {
				b = free[rng.IntN(len(free))]
			}
			st.faults = []*soakFault{a, b}
			st.offset = time.Duration(rng.IntN(3000)) * time.Millisecond
		}
		if rng.IntN(4) != 0 {
			st.gap = soakHealthyAfter + 2*time.Second
		}
		st.gap += time.Duration(rng.IntN(3000)) * time.Millisecond
	}
	return plan
}

// soak is one soak run in its VM.
type soak struct {
	t     *testing.T
	ctx   context.Context
	vm    *bench.VM
	step  int
	doing string // what the step does, for the failure message
	// baseline firewall (both families, counters stripped), taken online
	// before the first fault
	rules string
	// cutsBefore: the hub's power cuts before the step; tty: the modem's
	// name before a re-enumeration; kills: daemon SIGKILLs so far (each
	// allows systemd one restart)
	cutsBefore int
	tty        string
	kills      int
	backAt     time.Time // when the lan was last back
	// cutsAtReset: the hub's power cuts when the ladder last started over
	// for certain (the lan up for longer than healthy_after)
	cutsAtReset int
	// the step's injection, on the host's clock and on the guest's (µs)
	injected  time.Time
	sinceUs   int64
	panicFrom int64 // guest µs: where the next panic check reads from
	samples   []procSample
	stats     map[string]*soakStats
}

// soakTwoAtOnce is the table's row of the steps with two faults, which
// also count in each fault's own row.
const soakTwoAtOnce = "(two at once)"

// soakStats is one fault kind's row of the table.
type soakStats struct {
	injected  int
	recovered []time.Duration
}

// setup boots the unit: systemd up, the networks, the daemon installed as
// the .deb does with the soak's config, online, and the baseline taken.
func (s *soak) setup() {
	t, ctx, vm := s.t, s.ctx, s.vm
	waitGuest(t, ctx, vm, 90*time.Second, `systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active bench.target`)
	setupNetworks(t, ctx, vm)
	start := time.Now()
	installUnit(t, ctx, vm, soakConfig())
	lanReachesInternet(t, ctx, vm, start, 2*time.Minute)
	s.backAt = time.Now()
	t.Logf("soak: the unit is online in %v", since(start))
	s.settle()
	s.rules = s.firewall()
	s.cutsAtReset = s.powerCuts()
	s.sample("start")
}

// run plays one step: the wait, the faults, the holds, then the recovery
// and the invariants.
func (s *soak) run(st soakStep) {
	time.Sleep(st.gap - time.Since(s.backAt))
	s.cutsBefore = s.powerCuts()
	// The margin: the daemon's healthy clock starts with its probes, a
	// moment after the lan host got through.
	if time.Since(s.backAt) >= soakHealthyAfter+2*time.Second {
		s.cutsAtReset = s.cutsBefore
	}
	reboots := s.reboots()
	s.sinceUs = guestNow(s.t, s.ctx, s.vm)
	s.injected = time.Now()
	injected, sinceUs := s.injected, s.sinceUs
	for i, f := range st.faults {
		if i > 0 {
			time.Sleep(st.offset)
		}
		f.inject(s)
	}
	from := s.hold(st, injected)
	back := s.lanBack(from, st.bound())
	s.backAt = time.Now()
	var rows []string
	for _, f := range st.faults {
		if f.after != nil {
			f.after(s)
		}
		rows = append(rows, f.name)
	}
	if len(st.faults) > 1 {
		rows = append(rows, soakTwoAtOnce)
	}
	for _, name := range rows {
		row := s.stats[name]
		if row == nil {
			row = &soakStats{}
			s.stats[name] = row
		}
		row.injected++
		row.recovered = append(row.recovered, back)
	}
	checked := time.Now()
	s.check(st, sinceUs, reboots)
	s.sample(st.String())
	p := s.samples[len(s.samples)-1]
	s.t.Logf("soak step %d %s: gap %v, lan back %v after the fault%s (checks %v; daemon pid %d fds %d VmRSS %d KiB)", s.step, st, st.gap.Round(100*time.Millisecond),
		back.Round(100*time.Millisecond), map[bool]string{true: " ended", false: ""}[from != injected], since(checked), p.pid, p.fds, p.rssKiB)
	if s.t.Failed() {
		s.t.FailNow()
	}
}

// hold waits out the step's held faults, ending each when its hold says,
// and returns when the recovery clock starts: the injection, or the end of
// the last fault the bench held.
func (s *soak) hold(st soakStep, injected time.Time) time.Time {
	from := injected
	pending := map[*soakFault]bool{}
	for _, f := range st.faults {
		if f.hold != nil {
			pending[f] = true
		}
	}
	ended := func() bool {
		for f := range pending {
			if !f.hold(s, injected) {
				continue
			}
			if f.end != nil {
				f.end(s)
			}
			if f.held {
				from = time.Now()
			}
			delete(pending, f)
		}
		return len(pending) == 0
	}
	if !s.within(time.Now(), st.bound(), ended) {
		s.t.Fatalf("step %d %s: still holding after %v (waiting for the daemon to act)", s.step, st, st.bound())
	}
	return from
}

// lanBack waits until the lan host reaches the internet host and returns
// how long that took from from.
func (s *soak) lanBack(from time.Time, bound time.Duration) time.Duration {
	reaches := func() bool { _, err := s.vm.Run(s.ctx, 10*time.Second, bench.LanPing); return err == nil }
	if !s.within(from, bound, reaches) {
		s.t.Fatalf("step %d %s: the lan host does not reach the internet %v after the fault", s.step, s.doing, bound)
	}
	return time.Since(from)
}

// within polls cond until bound after from. The bound stretches once, for
// the ladder's rest: a fault that comes before recovery.healthy_after has
// let the ladder start over continues its climb, a few such in a row can
// spend every rung, and then the daemon rests daemon.RestAfterLadder by
// design. It stretches only
// when the hub's trace shows the power cycles spent since the soak last saw
// the ladder start over and the journal announces the rest (a recovery-step
// event with FAILBERRY_STEP=wait since the injection); the step then has its bound
// again from the rest's end.
func (s *soak) within(from time.Time, bound time.Duration, cond func() bool) bool {
	if poll(bound-time.Since(from), cond) {
		return true
	}
	rest, ok := s.ladderRest()
	if !ok {
		return false
	}
	s.t.Logf("step %d %s: the ladder is spent (%d power cuts since it last started over); the daemon rests %v from %v after the injection",
		s.step, s.doing, s.powerCuts()-s.cutsAtReset, daemon.RestAfterLadder, rest.Round(100*time.Millisecond))
	return poll(time.Until(s.injected.Add(rest+daemon.RestAfterLadder+bound)), cond)
}

// ladderRest finds the rest's announcement since the step's injection, as
// an offset from the injection, when the ladder can have been spent.
func (s *soak) ladderRest() (time.Duration, bool) {
	if s.powerCuts()-s.cutsAtReset < bench.PowerCycleAttempts {
		return 0, false
	}
	for _, e := range journalOf(s.t, s.ctx, s.vm, s.sinceUs, systemd.RecoveryStep) {
		if e.str("FAILBERRY_STEP") == daemon.StepWait.String() {
			return e.at().Sub(time.UnixMicro(s.sinceUs)), true
		}
	}
	return 0, false
}

func (s *soak) guest(sh string) string {
	s.t.Helper()
	return guest(s.t, s.ctx, s.vm, 60*time.Second, sh)
}

func (s *soak) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("step %d %s: %v", s.step, s.doing, err)
	}
}

func (s *soak) powerCuts() int { return len(powerOffTimes(s.t, s.vm)) }

// reboots counts the stand-in reboot command's runs.
func (s *soak) reboots() int {
	b, _ := os.ReadFile(filepath.Join(s.vm.Work, "reboots.log"))
	return strings.Count(string(b), "\n")
}
