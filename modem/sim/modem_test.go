package sim

import (
	"testing"
	"time"
)

func TestEchoAndE0(t *testing.T) {
	b := start(t, fastConfig())
	if got := b.dte.cmd("AT", "OK\r\n"); got != "AT\r\r\nOK\r\n" {
		t.Errorf("AT with echo = %q", got)
	}
	if got := b.dte.cmd("ATE0", "OK\r\n"); got != "ATE0\r\r\nOK\r\n" {
		t.Errorf("ATE0 = %q", got)
	}
	if got := b.dte.cmd("at", "OK\r\n"); got != "\r\nOK\r\n" {
		t.Errorf("AT without echo = %q", got)
	}
	// The LF of CRLF arrives after ATE1 took effect, so it is echoed.
	b.dte.send("ATE1\r\n")
	b.dte.expect("\r\nOK\r\n\n")
	if got := b.dte.cmd("AT", "OK\r\n"); got != "AT\r\r\nOK\r\n" {
		t.Errorf("AT after ATE1 = %q", got)
	}
}

func TestResultCodeForms(t *testing.T) {
	b := start(t, fastConfig())
	b.quiet()
	if got := b.dte.cmd("ATV0", "0\r"); got != "0\r" {
		t.Errorf("ATV0 = %q", got)
	}
	if got := b.dte.cmd("AT+BOGUS", "4\r"); got != "4\r" {
		t.Errorf("unknown command in V0 = %q", got)
	}
	if got := b.dte.cmd("AT+CSQ", "0\r"); got != "+CSQ: 20,99\r\n0\r" {
		t.Errorf("AT+CSQ in V0 = %q", got)
	}
	b.dte.cmd("ATV1", "\r\nOK\r\n")
	b.dte.send("ATQ1\r")
	b.dte.send("AT\r")
	if got := b.dte.cmd("ATQ0", "OK\r\n"); got != "\r\nOK\r\n" {
		t.Errorf("ATQ1 should have suppressed results; got %q", got)
	}
	b.dte.cmd("ATE1 V0", "0\r")
	if got := b.dte.cmd("ATZ", "OK\r\n"); got != "ATZ\r0\r" && got != "ATZ\r\r\nOK\r\n" {
		t.Errorf("ATZ = %q", got)
	}
	if got := b.dte.cmd("AT", "OK\r\n"); got != "AT\r\r\nOK\r\n" {
		t.Errorf("after ATZ = %q", got)
	}
	if got := b.dte.cmd("AT+XYZZY", "ERROR\r\n"); got != "AT+XYZZY\r\r\nERROR\r\n" {
		t.Errorf("unknown command = %q", got)
	}
}

func TestMultipleCommandsPerLine(t *testing.T) {
	b := start(t, fastConfig())
	b.quiet()
	tests := []struct{ line, want string }{
		{"ATQ0 V1 E0 S0=0 &C1 &D2 +FCLASS=0", "\r\nOK\r\n"},
		{"AT+CMEE=1;+CGREG?", "\r\n+CGREG: 0,1\r\n\r\nOK\r\n"},
		{"AT+CGMI;+CGMM", "\r\nZTE CORPORATION\r\n\r\nMF180\r\n\r\nOK\r\n"},
		{"ATS0?", "\r\n000\r\n\r\nOK\r\n"},
		{"AT+CSQ;+BOGUS;+CSQ", "\r\n+CSQ: 20,99\r\n\r\nERROR\r\n"},
		{"AT+CREG=9", "\r\n+CME ERROR: 50\r\n"},
		{"ATE0Q0V1X4", "\r\nOK\r\n"},
		{"ATJ", "\r\nERROR\r\n"},
		{"xyzAT", "\r\nOK\r\n"},
	}
	for _, tt := range tests {
		b.dte.send(tt.line + "\r")
		if got := b.dte.expect(tt.want); got != "" {
			t.Errorf("%s: unexpected %q before %q", tt.line, got, tt.want)
		}
	}
}

func TestCMEEForms(t *testing.T) {
	b := start(t, fastConfig())
	b.quiet()
	b.m.SetFault(FaultSIMRemoved)
	for _, tt := range []struct{ cmee, want string }{
		{"0", "\r\nERROR\r\n"},
		{"1", "\r\n+CME ERROR: 10\r\n"},
		{"2", "\r\n+CME ERROR: SIM not inserted\r\n"},
	} {
		b.dte.cmd("AT+CMEE="+tt.cmee, "OK\r\n")
		b.dte.send("AT+CPIN?\r")
		if got := b.dte.expect(tt.want); got != "" {
			t.Errorf("CMEE=%s: unexpected %q before %q", tt.cmee, got, tt.want)
		}
	}
	b.dte.send("AT+CMEE=7\r")
	b.dte.expect("\r\n+CME ERROR: incorrect parameters\r\n")
}

func TestPINAndPUK(t *testing.T) {
	cfg := fastConfig()
	cfg.PIN = "1234"
	b := start(t, cfg)
	b.quiet()
	b.dte.cmd("AT+CMEE=1", "OK\r\n")
	check := func(line, want string) {
		t.Helper()
		b.dte.send(line + "\r")
		if got := b.dte.expect(want); got != "" {
			t.Errorf("%s: unexpected %q before %q", line, got, want)
		}
	}
	check("AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n")
	check("AT+CREG?", "\r\n+CREG: 0,0\r\n\r\nOK\r\n")
	check("AT+CIMI", "\r\n+CME ERROR: 11\r\n")
	check(`AT+CPIN="0000"`, "\r\n+CME ERROR: 16\r\n")
	if s := b.m.Snapshot(); s.PINAttemptsLeft != 2 || s.PINTries != 1 {
		t.Errorf("after one wrong PIN: %+v", s)
	}
	check(`AT+CPIN="1234"`, "\r\nOK\r\n")
	check("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n")
	check(`AT+CPIN="1234"`, "\r\n+CME ERROR: 3\r\n")
	check("AT+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n")

	// A wrong PIN, then a power cycle: the SIM remembers the attempt.
	b.m.PowerOff()
	b.m.PowerOn()
	b.quiet()
	b.dte.cmd("AT+CMEE=1", "OK\r\n")
	check("AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n")
	check(`AT+CPIN="1111"`, "\r\n+CME ERROR: 16\r\n")
	b.m.PowerOff()
	b.m.PowerOn()
	b.quiet()
	b.dte.cmd("AT+CMEE=1", "OK\r\n")
	if s := b.m.Snapshot(); s.PINAttemptsLeft != 2 {
		t.Errorf("PIN counter after power cycle = %d, want 2", s.PINAttemptsLeft)
	}
	check("AT+CPINR", "\r\n+CPINR: SIM PIN,2,3\r\n\r\n+CPINR: SIM PUK,10,10\r\n\r\nOK\r\n")
	check(`AT+CPIN="1111"`, "\r\n+CME ERROR: 16\r\n")
	check(`AT+CPIN="1111"`, "\r\n+CME ERROR: 16\r\n")
	check("AT+CPIN?", "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n")
	check("AT+CIMI", "\r\n+CME ERROR: 12\r\n")
	check(`AT+CPIN="1234"`, "\r\n+CME ERROR: 12\r\n")
	if s := b.m.Snapshot(); !s.PUKRequired || s.PINAttemptsLeft != 0 || s.PINTries != 7 {
		t.Errorf("after three wrong PINs: %+v", s)
	}
	check(`AT+CPIN="99999999","4321"`, "\r\n+CME ERROR: 16\r\n")
	check(`AT+CPIN="12345678","4321"`, "\r\nOK\r\n")
	check("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n")
	b.m.PowerOff()
	b.m.PowerOn()
	b.quiet()
	check(`AT+CPIN="4321"`, "\r\nOK\r\n")
}

func TestRegistrationDelayAndURC(t *testing.T) {
	cfg := fastConfig()
	cfg.PIN = "1234"
	cfg.RegistrationDelay = 200 * time.Millisecond
	cfg.Roaming = true
	b := start(t, cfg)
	b.quiet()
	b.dte.cmd("AT+CREG=1;+CGREG=2", "OK\r\n")
	b.dte.cmd(`AT+CPIN="1234"`, "OK\r\n")
	b.dte.expect("\r\n+CREG: 2\r\n")
	b.dte.expect("\r\n+CGREG: 2\r\n")
	b.dte.expect("\r\n+CREG: 5\r\n")
	b.dte.expect("\r\n+CGREG: 5,\"00A1\",\"0000BEEF\",2\r\n")
	if got := b.dte.cmd("AT+CREG?;+COPS?", "OK\r\n"); got != "\r\n+CREG: 1,5\r\n\r\n+COPS: 0,0,\"Bench Mobile\",2\r\n\r\nOK\r\n" {
		t.Errorf("registered = %q", got)
	}
	b.dte.cmd("AT+CFUN=4", "OK\r\n")
	b.dte.expect("\r\n+CREG: 0\r\n\r\n+CGREG: 0\r\n")
	if got := b.dte.cmd("AT+COPS?;+CFUN?", "OK\r\n"); got != "\r\n+COPS: 0\r\n\r\n+CFUN: 4\r\n\r\nOK\r\n" {
		t.Errorf("radio off = %q", got)
	}
	b.dte.cmd("AT+CFUN=1", "OK\r\n")
	b.dte.expect("\r\n+CREG: 2\r\n")
	b.dte.expect("\r\n+CREG: 5\r\n")
}
