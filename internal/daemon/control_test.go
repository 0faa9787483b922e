package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/failberry/failberry/systemd"
)

func TestModemSlot(t *testing.T) {
	s := newModemSlot()
	if !s.tryTake() {
		t.Fatal("a free slot was refused")
	}
	if s.tryTake() {
		t.Fatal("a held slot was taken twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.take(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("take of a held slot = %v, want the context's error", err)
	}
	got := make(chan error)
	go func() { got <- s.take(context.Background()) }()
	s.give()
	if err := <-got; err != nil {
		t.Fatalf("take after give: %v", err)
	}
}

// TestRunATWaitsForDialThenRefuses replays how a session dials (slot held,
// the phase set to PPP before the slot is given back) against a `failberry
// at` that arrives during the dial. The command must not reach the port,
// whose line is now in data mode (issue 11: the phase was read before
// waiting for the modem).
func TestRunATWaitsForDialThenRefuses(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	d := &Daemon{st: newState(), slot: newModemSlot(), notify: systemd.NewNotifier(), opts: Options{}.withDefaults()}
	// A tty that is not there: a command that gets through to the port
	// fails with errModemGone, so a refusal is told apart from an attempt.
	tty := filepath.Join(t.TempDir(), "ttyUSB2")
	d.st.setTTY(tty)

	if err := d.slot.take(context.Background()); err != nil { // the session, before dialing
		t.Fatal(err)
	}
	d.setPhase(PhaseDialing, tty)
	done := make(chan error, 1)
	go func() { _, err := d.RunAT(context.Background(), "AT+CSQ"); done <- err }()
	time.Sleep(50 * time.Millisecond) // let the command arrive while the dial runs
	select {
	case err := <-done:
		t.Fatalf("AT ran while the session held the modem: %v", err)
	default:
	}
	d.setPhase(PhaseConnecting, tty) // CONNECT: the line carries PPP now
	d.slot.give()
	select {
	case err := <-done:
		if !errors.Is(err, ErrModemBusy) {
			t.Fatalf("AT after the dial = %v, want ErrModemBusy", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("AT still waiting after the slot was given back")
	}

	// Once the session has ended the command goes to the port again.
	d.setPhase(PhaseRecovering, "pppd exited")
	if _, err := d.RunAT(context.Background(), "AT+CSQ"); !errors.Is(err, errModemGone) {
		t.Errorf("AT while recovering = %v, want it to reach the (missing) port", err)
	}
	if !d.slot.tryTake() {
		t.Error("RunAT did not give the slot back")
	}
}

// A command that cannot get the modem in time says so and gives up.
func TestRunATGivesUpWhenTheModemStaysBusy(t *testing.T) {
	d := &Daemon{st: newState(), slot: newModemSlot()}
	d.st.setTTY(filepath.Join(t.TempDir(), "ttyUSB2"))
	if !d.slot.tryTake() {
		t.Fatal("slot not free")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := d.RunAT(ctx, "AT")
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "modem busy: context deadline exceeded" {
		t.Errorf("RunAT with the modem held = %v", err)
	}
}
