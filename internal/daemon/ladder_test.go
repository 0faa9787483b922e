package daemon

import (
	"testing"
	"time"

	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/config/value"
)

func testLadder() *Ladder {
	s := func(d time.Duration) value.Duration { return value.Duration(d) }
	return NewLadder(config.Recovery{
		Redial:     config.Budget{Attempts: 3, Backoff: s(5 * time.Second), MaxBackoff: s(8 * time.Second)},
		ModemReset: config.Budget{Attempts: 1, Backoff: s(time.Second)},
		PowerCycle: config.PowerCycle{Budget: config.Budget{Attempts: 2, Backoff: s(10 * time.Second)}},
		Reboot:     config.Reboot{Enabled: true},
		SIMRetry:   s(10 * time.Minute),
	})
}

func TestLadderClimbsInOrderWithBackoff(t *testing.T) {
	l := testLadder()
	want := []Action{
		{StepRedial, 1, 0, ClassPPP},
		{StepRedial, 2, 5 * time.Second, ClassPPP},
		{StepRedial, 3, 8 * time.Second, ClassPPP}, // 10s capped at MaxBackoff
		{StepModemReset, 1, 0, ClassPPP},
		{StepPowerCycle, 1, 0, ClassPPP},
		{StepPowerCycle, 2, 10 * time.Second, ClassPPP},
		{StepReboot, 1, 0, ClassPPP},
		{StepWait, 1, 5 * time.Minute, ClassPPP},
		{StepRedial, 1, 0, ClassPPP}, // starts over after resting
	}
	for i, w := range want {
		if got := l.Next(ClassPPP); got != w {
			t.Fatalf("failure %d: got %+v, want %+v", i+1, got, w)
		}
	}
}

func TestLadderSuccessResets(t *testing.T) {
	l := testLadder()
	for range 4 {
		l.Next(ClassDial)
	}
	if s, _ := l.Position(); s != StepModemReset {
		t.Fatalf("position %v, want modem-reset", s)
	}
	l.Success()
	if got := l.Next(ClassDial); got.Step != StepRedial || got.Attempt != 1 {
		t.Fatalf("after success: %+v", got)
	}
}

func TestLadderUnresponsiveModemGoesStraightToPowerCycle(t *testing.T) {
	for _, c := range []Class{ClassUnresponsive, ClassGone} {
		l := testLadder()
		if got := l.Next(c); got.Step != StepPowerCycle || got.Attempt != 1 {
			t.Errorf("%s: got %+v, want power-cycle attempt 1", c, got)
		}
	}
}

func TestLadderSIMProblemsNeverEscalate(t *testing.T) {
	l := testLadder()
	for i := range 20 {
		got := l.Next(ClassSIM)
		if got.Step != StepRedial || got.Wait != 10*time.Minute {
			t.Fatalf("SIM failure %d: %+v: a SIM problem must only retry slowly", i+1, got)
		}
	}
	// A SIM problem in the middle of a climb brings the ladder down, not up.
	l.Next(ClassUnresponsive)
	if got := l.Next(ClassSIM); got.Step != StepRedial {
		t.Fatalf("SIM after unresponsive: %+v", got)
	}
}

func TestLadderSkipsStepsWithoutBudget(t *testing.T) {
	// Reboot is not enabled, so it is skipped like the modem reset.
	l := NewLadder(config.Recovery{Redial: config.Budget{Attempts: 1}, PowerCycle: config.PowerCycle{Budget: config.Budget{Attempts: 1}}})
	steps := []Step{StepRedial, StepPowerCycle, StepWait, StepRedial}
	for i, w := range steps {
		if got := l.Next(ClassPath); got.Step != w {
			t.Fatalf("failure %d: step %v, want %v", i+1, got.Step, w)
		}
	}
}
