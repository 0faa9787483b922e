//go:build bench

package bench_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// soakFault is one kind of fault of the soak's catalogue.
type soakFault struct {
	name string
	// bound is how soon the lan must reach the internet again: from the
	// injection, or from the end of a fault the bench holds (hold).
	bound time.Duration
	// slot: the fault uses the simulator's one fault slot, so it cannot
	// pair with another such fault.
	slot bool
	// journal lists the event kinds of which at least one must be in the
	// journal (by MESSAGE_ID) after the injection; empty: none required.
	journal []systemd.Kind
	// powerCut: the fault is only cured by cutting the modem's port power,
	// which qemu's hub trace must show.
	powerCut bool
	// refuse: the daemon must not power-cycle or reboot (the SIM is out).
	refuse bool
	// slow: by design the recovery takes a minute or more (the SIM's slow
	// retry, the whole ladder's climb); only runs longer than soakShort
	// draw it.
	slow   bool
	inject func(s *soak)
	// hold, if set, is polled after the injection until it returns true;
	// then end, if set, ends the fault. held says the bench chose how
	// long (recovery counts from the end), not the daemon's recovery (it
	// counts from the injection).
	hold func(s *soak, injected time.Time) bool
	end  func(s *soak)
	held bool
	// after runs once the lan reaches the internet again (a fault the
	// daemon outlived, put away so the next starts from a healthy modem).
	after func(s *soak)
}

// soakCatalogue is issue 15's catalogue of faults. The ladder's rungs,
// backoffs and healthy_after are the bench's (bench.RecoverySection); the
// bounds allow the ladder to have climbed from a fault that came before.
func soakCatalogue() []*soakFault {
	ladder := []systemd.Kind{systemd.RecoveryStep}
	setFault := func(fs ...sim.Fault) func(*soak) {
		return func(s *soak) {
			for _, f := range fs {
				s.vm.Modem.SetFault(f)
			}
		}
	}
	clearFault := setFault(sim.FaultNone)
	// A call that drops as the fault starts: the redial meets the fault.
	dropThen := func(f sim.Fault) func(*soak) { return setFault(sim.FaultCarrierDrop, f) }
	return []*soakFault{
		{name: "hang-data", bound: 4 * time.Minute, slot: true, journal: ladder, powerCut: true,
			inject: setFault(sim.FaultHang)},
		{name: "hang-command", bound: 4 * time.Minute, slot: true, journal: ladder, powerCut: true,
			inject: dropThen(sim.FaultHang)},
		{name: "off-bus", bound: 4 * time.Minute, slot: true, journal: ladder, powerCut: true,
			inject: func(s *soak) { s.must(s.vm.DropOffBus()) }},
		{name: "reenumerate", bound: 4 * time.Minute, slot: true, journal: ladder, powerCut: true,
			inject: func(s *soak) { s.tty = s.modemTTY(); s.vm.Modem.SetFault(sim.FaultHang) },
			hold:   func(s *soak, _ time.Time) bool { return !s.vm.Modem.Snapshot().Powered },
			end:    func(s *soak) { s.must(s.vm.SwapDecoy(s.ctx)) },
			after:  func(s *soak) { s.ttyChanged() }},
		{name: "carrier-drop", bound: 3 * time.Minute, slot: true, journal: ladder,
			inject: setFault(sim.FaultCarrierDrop, sim.FaultNone)},
		{name: "blackhole-short", bound: 3 * time.Minute,
			inject: func(s *soak) { s.must(s.vm.CarrierBlackhole(s.ctx, true)) },
			hold:   holdFor(6 * time.Second), held: true,
			end: func(s *soak) { s.must(s.vm.CarrierBlackhole(s.ctx, false)) }},
		{name: "blackhole-persistent", bound: 4 * time.Minute, journal: ladder, powerCut: true, slow: true,
			inject: func(s *soak) { s.must(s.vm.CarrierBlackhole(s.ctx, true)) },
			hold:   func(s *soak, _ time.Time) bool { return s.powerCuts() > s.cutsBefore },
			end:    func(s *soak) { s.must(s.vm.CarrierBlackhole(s.ctx, false)) }},
		{name: "slow-registration", bound: 3 * time.Minute, slot: true, journal: ladder,
			inject: setFault(sim.FaultSlowRegistration), after: clearFault},
		{name: "registration-denied", bound: 3 * time.Minute, slot: true, journal: ladder,
			inject: dropThen(sim.FaultRegDenied), hold: holdFor(10 * time.Second), held: true, end: clearFault},
		{name: "sim-out", bound: 3 * time.Minute, slot: true, journal: []systemd.Kind{systemd.SIMError}, refuse: true, slow: true,
			inject: setFault(sim.FaultSIMRemoved), hold: holdFor(15 * time.Second), held: true, end: clearFault},
		{name: "pin-again", bound: 3 * time.Minute, slot: true, journal: ladder,
			inject: setFault(sim.FaultPINAgain), after: clearFault},
		{name: "garbage", bound: 3 * time.Minute, slot: true, journal: ladder,
			inject: dropThen(sim.FaultGarbage), after: clearFault},
		{name: "partial-lines", bound: 3 * time.Minute, slot: true, journal: ladder,
			inject: dropThen(sim.FaultPartialLines), after: clearFault},
		{name: "pppd-kill", bound: 3 * time.Minute, journal: ladder,
			inject: func(s *soak) {
				s.guest(`kill -KILL ` + strings.Join(pppdPids(s.t, s.ctx, s.vm), " ") + ` 2>/dev/null || true`)
			}},
		{name: "firewall-flush", bound: time.Minute, journal: []systemd.Kind{systemd.FirewallRepaired},
			inject: func(s *soak) {
				s.guest(`for ipt in iptables ip6tables; do for tb in filter nat mangle; do $ipt -w -t $tb -F; done; done`)
			}},
		{name: "route-delete", bound: time.Minute,
			inject: func(s *soak) { s.guest(`ip route del default dev ppp0 2>/dev/null || true`) }},
		{name: "daemon-kill", bound: 3 * time.Minute,
			inject: func(s *soak) { s.kills++; s.guest(`systemctl kill --kill-whom=main --signal=KILL failberry`) }},
		{name: "daemon-term", bound: 3 * time.Minute,
			inject: func(s *soak) { s.guest(`systemctl restart --no-block failberry`) }},
	}
}

// holdFor holds a fault for d from its injection.
func holdFor(d time.Duration) func(*soak, time.Time) bool {
	return func(_ *soak, injected time.Time) bool { return time.Since(injected) >= d }
}

// modemTTY is the tty name the kernel gave the modem (hub 1-1 port 2).
func (s *soak) modemTTY() string {
	return strings.TrimSpace(s.guest(fmt.Sprintf(`ls /sys/bus/usb/devices/1-1.%d:1.0/ 2>/dev/null | grep -m1 '^ttyUSB' || true`, bench.ModemHubPort)))
}

// ttyChanged checks that the modem came back under another tty name.
func (s *soak) ttyChanged() {
	if now := s.modemTTY(); now == "" || now == s.tty {
		s.t.Errorf("the modem came back as %q, was %q: not re-enumerated under another name", now, s.tty)
	}
}
