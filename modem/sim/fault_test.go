package sim

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// A slow network: the call drops, registration searches for
// SlowRegistrationDelay, then the modem registers and dials again.
func TestFaultSlowRegistration(t *testing.T) {
	cfg := fastConfig()
	cfg.SlowRegistrationDelay = 300 * time.Millisecond
	b := start(t, cfg)
	b.quiet()
	b.online(t)
	b.m.SetFault(FaultSlowRegistration)
	b.dte.expect("\r\nNO CARRIER\r\n")
	faultAt := time.Now()
	if got := b.dte.cmd("AT+CREG?", "OK\r\n"); !strings.Contains(got, "+CREG: 0,2") {
		t.Fatalf("right after the fault AT+CREG? = %q, want searching (stat 2)", got)
	}
	waitState(t, b.m, "registered again", func(s State) bool { return s.Registered })
	if d := time.Since(faultAt); d < 250*time.Millisecond {
		t.Errorf("registered %v after the fault, want about %v", d, cfg.SlowRegistrationDelay)
	}
	b.m.SetFault(FaultNone)
	b.dte.send("ATD*99***1#\r")
	b.dte.expect("\r\nCONNECT 7200000\r\n")
}

// A SIM that resets asks for its PIN again: the call drops, the modem
// does not register until the PIN is entered, and the counters say it
// asked once more.
func TestFaultPINAgain(t *testing.T) {
	cfg := fastConfig()
	cfg.PIN = "1234"
	b := start(t, cfg)
	b.quiet()
	waitState(t, b.m, "boot", func(s State) bool { return s.Booted })
	b.dte.cmd(`AT+CPIN="1234"`, "OK\r\n")
	b.online(t)
	b.m.SetFault(FaultPINAgain)
	b.dte.expect("\r\nNO CARRIER\r\n")
	if got := b.dte.cmd("AT+CPIN?", "OK\r\n"); !strings.Contains(got, "+CPIN: SIM PIN") {
		t.Fatalf("after the SIM reset AT+CPIN? = %q", got)
	}
	if got := b.dte.cmd("AT+CREG?", "OK\r\n"); !strings.Contains(got, "+CREG: 0,0") {
		t.Errorf("registered with a locked SIM: %q", got)
	}
	if s := b.m.Snapshot(); s.SIMLocks != 2 || s.PINTries != 1 || s.PINRefused != 0 {
		t.Errorf("counters before the second PIN: %+v", s)
	}
	b.dte.cmd(`AT+CPIN="1234"`, "OK\r\n")
	waitState(t, b.m, "registered again", func(s State) bool { return s.Registered })
	b.dte.cmd("AT+CMEE=1", "OK\r\n")
	b.dte.cmd(`AT+CPIN="1234"`, "+CME ERROR: 3\r\n") // unlocked already: refused
	if s := b.m.Snapshot(); s.SIMLocks != 2 || s.PINTries != 3 || s.PINRefused != 1 || s.PINAttemptsLeft != 3 {
		t.Errorf("counters at the end: %+v", s)
	}
}

// Partial lines: every byte arrives, in order, but in pieces with pauses.
func TestFaultPartialLines(t *testing.T) {
	dteHost, dteModem := net.Pipe()
	defer dteHost.Close()
	m := New(fastConfig())
	m.SetFault(FaultPartialLines)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, dteModem, nil) }()
	defer func() { cancel(); dteModem.Close(); <-done }()
	go func() { _, _ = dteHost.Write([]byte("ATE0\rAT+CSQ\r")) }()
	var got []byte
	reads := 0
	buf := make([]byte, 256)
	if err := dteHost.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	want := "ATE0\r\r\nOK\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
	for len(got) < len(want) {
		n, err := dteHost.Read(buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		if n > 8 {
			t.Errorf("one read of %d bytes (%q): not cut into pieces", n, buf[:n])
		}
		got = append(got, buf[:n]...)
		reads++
	}
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if reads < 4 {
		t.Errorf("%d reads for %d bytes", reads, len(got))
	}
}
