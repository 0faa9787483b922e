package modem_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/sim"
)

// A network card's AT port, played by the simulated modem behind a real
// pty and opened with the serial code the daemon uses: Inspect reads the
// SIM, signal and operator, sends a wrong PIN once and never again (the
// store remembers it across sessions), takes the right one, and Reset
// cycles the radio, the network card's modem-reset rung.
func TestInspectOverPTY(t *testing.T) {
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	defer ptm.Close()
	defer tty.Close()
	m := sim.New(sim.Config{BootDelay: -1, RegistrationDelay: -1, PIN: "1234", Operator: "Stick Mobile", RSSI: 25})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, ptm, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("modem: %v", err)
		}
	}()
	pins := modem.NewFilePINStore(filepath.Join(t.TempDir(), "pins"))
	inspect := func(pin string) (modem.Info, error) {
		p, err := modem.OpenSerial(tty.Name(), 115200)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		e := modem.NewEngine(p, modem.EngineOptions{Timeout: 2 * time.Second})
		return modem.Inspect(ctx, e, modem.BringupConfig{PIN: pin, CommandTimeout: 2 * time.Second}, pins, nil)
	}
	if _, err := inspect("4321"); !errors.Is(err, modem.ErrIncorrectPassword) {
		t.Fatalf("wrong PIN: %v, want the SIM's incorrect password", err)
	}
	if _, err := inspect("4321"); !errors.Is(err, modem.ErrPINRejectedBefore) {
		t.Fatalf("wrong PIN again: %v, want it refused before sending", err)
	}
	if n := strings.Count(m.Transcript(), `AT+CPIN="4321"`); n != 1 {
		t.Errorf("the wrong PIN reached the SIM %d times, want once", n)
	}
	info, err := inspect("1234")
	if err != nil {
		t.Fatal(err)
	}
	if info.SIM != modem.SIMReady || info.Operator != "Stick Mobile" || !info.SignalKnown || info.SignalDBM != -63 || info.Model != "MF180" {
		t.Errorf("info %+v", info)
	}
	if strings.Contains(m.Transcript(), "AT+CGDCONT") || strings.Contains(m.Transcript(), "AT+CGREG") {
		t.Errorf("Inspect touched the PDP context or waited for registration:\n%s", m.Transcript())
	}
	p, err := modem.OpenSerial(tty.Name(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := modem.Reset(ctx, modem.NewEngine(p, modem.EngineOptions{Timeout: 2 * time.Second}), false); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if !strings.Contains(m.Transcript(), "-> AT+CFUN=4\n") {
		t.Errorf("no radio cycle in the transcript:\n%s", m.Transcript())
	}
}
