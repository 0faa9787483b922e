package sim

import (
	"strings"
	"testing"
	"time"
)

// online dials and waits for CONNECT.
func (b *bench) online(t *testing.T) {
	t.Helper()
	b.dte.cmd(`AT+CGDCONT=1,"IP","internet"`, "OK\r\n")
	b.dte.send("ATD*99***1#\r")
	b.dte.expect("\r\nCONNECT 7200000\r\n")
	waitState(t, b.m, "online", func(s State) bool { return s.Online })
}

// waitDropped waits until the modem has thrown away that many bytes.
func (b *bench) waitDropped(t *testing.T, dte, carrier int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		b.m.mu.Lock()
		d, c := b.m.droppedDTE, b.m.droppedCarrier
		b.m.mu.Unlock()
		if d >= dte && c >= carrier {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d/%d bytes, want %d/%d", d, c, dte, carrier)
		}
		time.Sleep(time.Millisecond)
	}
}

func wrap(f []byte) string { return string(append(append([]byte{pppFlag}, f...), pppFlag)) }

func TestDialAndRelay(t *testing.T) {
	b := start(t, fastConfig())
	b.quiet()
	b.carrier.send("before-connect")
	b.online(t)
	if s := b.m.Snapshot(); s.Calls != 1 || !s.CallUp {
		t.Errorf("after CONNECT: %+v", s)
	}
	up := wrap(lcpConfReq) + "hello carrier"
	b.dte.send(up)
	if got := b.carrier.expect(up); got != "" {
		t.Errorf("carrier got %q before the data", got)
	}
	down := wrap(ipv4Full) + "hello dte\r\nOK\r\n"
	b.carrier.send(down)
	if got := b.dte.expect(down); got != "" {
		t.Errorf("dte got %q before the data", got)
	}
	if strings.Contains(b.m.Transcript(), "hello") {
		t.Errorf("transcript dumps data-mode bytes:\n%s", b.m.Transcript())
	}
}

func TestDialRefused(t *testing.T) {
	cfg := fastConfig()
	cfg.PIN = "1234"
	b := start(t, cfg)
	b.quiet()
	for _, line := range []string{"ATD*99#", "ATDT*99#"} {
		if got := b.dte.cmd(line, "\r\nNO CARRIER\r\n"); got != "\r\nNO CARRIER\r\n" {
			t.Errorf("%s while SIM locked = %q", line, got)
		}
	}
	b.dte.cmd(`AT+CPIN="1234"`, "OK\r\n")
	if got := b.dte.cmd("ATD*99***2#", "\r\nNO CARRIER\r\n"); got != "\r\nNO CARRIER\r\n" {
		t.Errorf("undefined context = %q", got)
	}
	if got := b.dte.cmd("ATD12345", "\r\nNO CARRIER\r\n"); got != "\r\nNO CARRIER\r\n" {
		t.Errorf("voice number = %q", got)
	}
	b.dte.send("ATDT*99#\r")
	b.dte.expect("\r\nCONNECT 7200000\r\n")
	if s := b.m.Snapshot(); s.Calls != 1 {
		t.Errorf("calls = %d", s.Calls)
	}
}

func TestEscapeOnlineHangup(t *testing.T) {
	b := start(t, fastConfig())
	b.quiet()
	b.online(t)
	// "+++" without the guard time before it is data.
	b.dte.send("a+++")
	b.carrier.expect("a+++")
	b.dte.send("b")
	b.carrier.expect("b")
	if s := b.m.Snapshot(); !s.Online {
		t.Fatalf("escaped without guard time")
	}
	time.Sleep(3 * b.m.cfg.GuardTime)
	b.dte.send("+++")
	b.dte.expect("\r\nOK\r\n")
	if s := b.m.Snapshot(); s.Online || !s.CallUp {
		t.Errorf("after +++: %+v", s)
	}
	// Carrier bytes are not passed while in command mode.
	b.carrier.send("dropped")
	if got := b.dte.cmd("AT+CSQ", "OK\r\n"); got != "\r\n+CSQ: 20,99\r\n\r\nOK\r\n" {
		t.Errorf("command mode during call = %q", got)
	}
	b.dte.cmd("ATO", "\r\nCONNECT 7200000\r\n")
	b.dte.send("again")
	b.carrier.expect("again")
	time.Sleep(3 * b.m.cfg.GuardTime)
	b.dte.send("+++")
	b.dte.expect("\r\nOK\r\n")
	if got := b.dte.cmd("ATH", "OK\r\n"); got != "\r\nOK\r\n" {
		t.Errorf("ATH = %q", got)
	}
	if s := b.m.Snapshot(); s.CallUp || s.Online {
		t.Errorf("after ATH: %+v", s)
	}
	if got := b.dte.cmd("ATO", "\r\nNO CARRIER\r\n"); got != "\r\nNO CARRIER\r\n" {
		t.Errorf("ATO without call = %q", got)
	}
	if strings.Contains(b.dte.rest(), "dropped") {
		t.Errorf("carrier bytes leaked in command mode")
	}
}

func TestLCPTerminateHangsUp(t *testing.T) {
	t.Run("Terminate-Ack", func(t *testing.T) {
		b := start(t, fastConfig())
		b.quiet()
		b.online(t)
		b.dte.send(wrap(lcpTermAckF))
		b.carrier.expect(wrap(lcpTermAckF))
		b.dte.expect("\r\nNO CARRIER\r\n")
		if s := b.m.Snapshot(); s.CallUp {
			t.Errorf("call still up: %+v", s)
		}
	})
	t.Run("Terminate-Request then silence", func(t *testing.T) {
		b := start(t, fastConfig())
		b.quiet()
		b.online(t)
		b.dte.send(wrap(lcpTermReqF))
		b.carrier.expect(wrap(lcpTermReqF))
		b.carrier.send(wrap(lcpTermAckF))
		b.dte.expect(wrap(lcpTermAckF))
		b.dte.expect("\r\nNO CARRIER\r\n")
		if got := b.dte.cmd("AT", "OK\r\n"); got != "\r\nOK\r\n" {
			t.Errorf("command mode after hang-up = %q", got)
		}
	})
}

func TestFaults(t *testing.T) {
	t.Run("hang and off-bus", func(t *testing.T) {
		for _, f := range []Fault{FaultHang, FaultOffBus} {
			b := start(t, fastConfig())
			b.quiet()
			b.online(t)
			b.m.SetFault(f)
			b.dte.send("up")
			b.carrier.send("down")
			b.waitDropped(t, 2, 4)
			b.m.SetFault(FaultNone)
			b.dte.send("UP")
			b.carrier.send("DOWN")
			if got := b.carrier.expect("UP"); got != "" {
				t.Errorf("%s relayed %q to the carrier", f, got)
			}
			if got := b.dte.expect("DOWN"); got != "" {
				t.Errorf("%s relayed %q to the dte", f, got)
			}
			time.Sleep(3 * b.m.cfg.GuardTime)
			b.dte.send("+++")
			b.dte.expect("\r\nOK\r\n")
			b.m.SetFault(f)
			b.dte.send("AT+CSQ\r")
			b.waitDropped(t, 2+7, 4)
			b.m.SetFault(FaultNone)
			if got := b.dte.cmd("AT", "OK\r\n"); got != "\r\nOK\r\n" {
				t.Errorf("%s: answered while hung: %q", f, got)
			}
		}
	})
	t.Run("carrier-drop", func(t *testing.T) {
		b := start(t, fastConfig())
		b.quiet()
		b.online(t)
		b.m.SetFault(FaultCarrierDrop)
		b.dte.expect("\r\nNO CARRIER\r\n")
		if s := b.m.Snapshot(); s.CallUp || !s.Registered {
			t.Errorf("after carrier drop: %+v", s)
		}
		b.dte.send("ATD*99#\r")
		b.dte.expect("\r\nCONNECT 7200000\r\n")
	})
	t.Run("sim-removed", func(t *testing.T) {
		b := start(t, fastConfig())
		b.quiet()
		b.online(t)
		b.m.SetFault(FaultSIMRemoved)
		b.dte.expect("\r\nNO CARRIER\r\n")
		b.dte.cmd("AT+CMEE=1", "OK\r\n")
		for line, want := range map[string]string{
			"AT+CPIN?": "\r\n+CME ERROR: 10\r\n", "AT+CREG?": "\r\n+CREG: 0,0\r\n\r\nOK\r\n",
			"ATD*99#": "\r\nNO CARRIER\r\n", "AT+CIMI": "\r\n+CME ERROR: 10\r\n",
		} {
			b.dte.send(line + "\r")
			if got := b.dte.expect(want); got != "" {
				t.Errorf("%s: %q before %q", line, got, want)
			}
		}
	})
	t.Run("reg-denied", func(t *testing.T) {
		b := start(t, fastConfig())
		b.quiet()
		b.m.SetFault(FaultRegDenied)
		b.dte.cmd("AT+CEREG?", "\r\n+CEREG: 0,3\r\n\r\nOK\r\n")
		b.dte.cmd("ATD*99#", "\r\nNO CARRIER\r\n")
		b.m.SetFault(FaultNone)
		b.dte.cmd("AT+CEREG?", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n")
	})
	t.Run("blackhole", func(t *testing.T) {
		b := start(t, fastConfig())
		b.quiet()
		b.online(t)
		b.m.SetFault(FaultBlackhole)
		waitState(t, b.m, "blackhole", func(s State) bool { return s.Fault == FaultBlackhole })
		b.dte.send(wrap(lcpEchoReq) + string(ipv4ACPFC) + string([]byte{pppFlag}) + string(ipcpConfReq) + "\x7e")
		if got := b.carrier.expect(string(ipcpConfReq) + "\x7e"); got != wrap(lcpEchoReq)+"\x7e" {
			t.Errorf("carrier got % x", got)
		}
		b.carrier.send(wrap(ipv6Full) + string(lcpEchoReq) + "\x7e")
		if got := b.dte.expect(string(lcpEchoReq) + "\x7e"); got != "\x7e\x7e" {
			t.Errorf("dte got % x", got)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		b := start(t, fastConfig())
		b.quiet()
		b.m.SetFault(FaultGarbage)
		noise := 0
		for range 20 {
			b.dte.send("AT+CSQ\r")
			noise += len(b.dte.expect("\r\n+CSQ: 20,99\r\n"))
			noise += len(b.dte.expect("\r\nOK\r\n"))
		}
		if noise == 0 {
			t.Errorf("garbage fault injected nothing")
		}
		b.m.SetFault(FaultNone)
		b.dte.rest()
		if got := b.dte.cmd("AT", "OK\r\n"); got != "\r\nOK\r\n" {
			t.Errorf("after garbage = %q", got)
		}
	})
}

// TestEscapeGuardS12: ATS12 sets the guard time as on a Hayes modem (in
// fiftieths of a second), ATS12? reads it, and ATZ restores the default.
func TestEscapeGuardS12(t *testing.T) {
	cfg := fastConfig()
	cfg.GuardTime = time.Second
	b := start(t, cfg)
	b.quiet()
	if got := b.dte.cmd("ATS12?", "OK\r\n"); got != "\r\n050\r\n\r\nOK\r\n" {
		t.Errorf("ATS12? = %q, want the config's 1 s as 050", got)
	}
	if got := b.dte.cmd("ATS12=300", "ERROR\r\n"); got != "\r\nERROR\r\n" {
		t.Errorf("ATS12=300 = %q, want ERROR", got)
	}
	b.dte.cmd("ATS12=5", "OK\r\n") // 100 ms
	b.online(t)
	time.Sleep(150 * time.Millisecond) // more than S12's guard, less than the config's
	start := time.Now()
	b.dte.send("+++")
	b.dte.expect("\r\nOK\r\n")
	if el := time.Since(start); el < 100*time.Millisecond || el > 700*time.Millisecond {
		t.Errorf("escape's OK after %v, want S12's 100 ms", el)
	}
	b.dte.cmd("ATH", "OK\r\n")
	b.dte.cmd("ATZ", "OK\r\n")
	b.quiet()
	if got := b.dte.cmd("ATS12?", "OK\r\n"); got != "\r\n050\r\n\r\nOK\r\n" {
		t.Errorf("ATS12? after ATZ = %q", got)
	}
}

// TestDropDTR: the host dropping DTR ends a call with NO CARRIER (&D2), and
// the carrier is told the session is gone.
func TestDropDTR(t *testing.T) {
	b := start(t, fastConfig())
	b.quiet()
	b.online(t)
	b.m.DropDTR()
	b.dte.expect("\r\nNO CARRIER\r\n")
	if s := b.m.Snapshot(); s.CallUp || s.Online {
		t.Errorf("after DropDTR: %+v", s)
	}
	b.m.DropDTR() // no call: nothing happens
	if got := b.dte.cmd("AT", "OK\r\n"); got != "\r\nOK\r\n" {
		t.Errorf("AT after DropDTR = %q", got)
	}
}

func TestSetConnectDelay(t *testing.T) {
	b := start(t, fastConfig())
	b.quiet()
	b.dte.cmd(`AT+CGDCONT=1,"IP","internet"`, "OK\r\n")
	b.m.SetConnectDelay(400 * time.Millisecond)
	sent := time.Now()
	b.dte.send("ATD*99***1#\r")
	b.dte.expect("\r\nCONNECT 7200000\r\n")
	if d := time.Since(sent); d < 400*time.Millisecond {
		t.Errorf("CONNECT after %v, want at least the delay set, 400ms", d)
	}
}

// FirstLCP is how long the line stayed silent after CONNECT: bytes that are
// not an LCP frame do not count, and a second call starts the clock again.
func TestFirstLCP(t *testing.T) {
	b := start(t, fastConfig())
	b.quiet()
	dialled := time.Now() // before CONNECT
	b.online(t)
	if s := b.m.Snapshot(); s.FirstLCP != 0 {
		t.Fatalf("FirstLCP = %v before any frame", s.FirstLCP)
	}
	b.dte.send(wrap(ipv4Full))
	b.carrier.expect(wrap(ipv4Full))
	if s := b.m.Snapshot(); s.FirstLCP != 0 {
		t.Fatalf("FirstLCP = %v after an IPv4 frame", s.FirstLCP)
	}
	time.Sleep(150 * time.Millisecond)
	b.dte.send(wrap(lcpConfReq))
	b.carrier.expect(wrap(lcpConfReq))
	first := b.m.Snapshot().FirstLCP
	if bound := time.Since(dialled); first < 150*time.Millisecond || first > bound {
		t.Errorf("FirstLCP = %v, want between 150ms and %v", first, bound)
	}
	b.dte.send(wrap(lcpConfReq))
	b.carrier.expect(wrap(lcpConfReq))
	if s := b.m.Snapshot(); s.FirstLCP != first {
		t.Errorf("a second LCP frame moved FirstLCP from %v to %v", first, s.FirstLCP)
	}
	b.m.DropDTR()
	b.dte.expect("NO CARRIER\r\n")
	b.online(t)
	if s := b.m.Snapshot(); s.FirstLCP != 0 {
		t.Errorf("FirstLCP = %v at a new call's start", s.FirstLCP)
	}
}
