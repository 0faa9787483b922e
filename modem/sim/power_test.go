package sim

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// answers polls with AT until the modem answers OK.
func (b *bench) answers(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !strings.Contains(b.dte.rest(), "OK\r\n") {
		if time.Now().After(deadline) {
			t.Fatalf("modem never answered; state %+v", b.m.Snapshot())
		}
		b.dte.send("AT\r")
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPowerOffOn(t *testing.T) {
	cfg := fastConfig()
	cfg.BootDelay = 100 * time.Millisecond
	b := start(t, cfg)
	waitState(t, b.m, "boot", func(s State) bool { return s.Booted })
	b.quiet()
	b.dte.cmd(`AT+CGDCONT=1,"IP","internet"`, "OK\r\n")
	b.online(t)
	b.m.PowerOff()
	if s := b.m.Snapshot(); s.Powered || s.Booted || s.Online || s.CallUp || s.Registered {
		t.Errorf("after PowerOff: %+v", s)
	}
	b.dte.send("AT\r")
	b.carrier.send("lost")
	b.m.PowerOn()
	b.m.PowerOn() // repeated: no second boot
	if s := b.m.Snapshot(); !s.Powered || s.Booted {
		t.Errorf("right after PowerOn: %+v", s)
	}
	b.answers(t)
	b.dte.rest()
	// Echo is back on and the context is gone.
	if got := b.dte.cmd("AT+CGDCONT?", "OK\r\n"); got != "AT+CGDCONT?\r\r\nOK\r\n" {
		t.Errorf("after power cycle = %q", got)
	}
	if s := b.m.Snapshot(); !s.Echo || s.Calls != 1 {
		t.Errorf("after power cycle: %+v", s)
	}
}

func TestPowerCycleCuresFirmwareFaults(t *testing.T) {
	for _, tt := range []struct {
		fault Fault
		after Fault
	}{
		{FaultHang, FaultNone}, {FaultOffBus, FaultNone}, {FaultGarbage, FaultNone},
		{FaultSIMRemoved, FaultSIMRemoved}, {FaultRegDenied, FaultRegDenied}, {FaultBlackhole, FaultBlackhole},
	} {
		m := New(fastConfig())
		m.SetFault(tt.fault)
		m.PowerOff()
		m.PowerOn()
		if s := m.Snapshot(); s.Fault != tt.after {
			t.Errorf("%s after power cycle: fault %s, want %s", tt.fault, s.Fault, tt.after)
		}
	}
}

func TestCFUNResetCallsOnReboot(t *testing.T) {
	cfg := fastConfig()
	cfg.BootDelay = 50 * time.Millisecond
	m := New(cfg)
	rebooted := make(chan State, 1)
	m.OnReboot = func() { rebooted <- m.Snapshot() }
	b := startModem(t, m)
	b.answers(t)
	b.quiet()
	b.dte.cmd("AT+CFUN=1,1", "\r\nOK\r\n")
	select {
	case s := <-rebooted:
		if !s.Powered {
			t.Errorf("state in OnReboot: %+v", s)
		}
	case <-time.After(waitFor):
		t.Fatal("OnReboot not called")
	}
	b.answers(t)
	if s := b.m.Snapshot(); !s.Echo {
		t.Errorf("echo not restored by reset: %+v", s)
	}
}

// TestURCsNeverSplitLines runs commands under a storm of unsolicited lines
// and checks every line is whole.
func TestURCsNeverSplitLines(t *testing.T) {
	cfg := fastConfig()
	cfg.URCMeanInterval = time.Millisecond
	cfg.Seed = 7
	b := start(t, cfg)
	b.quiet()
	b.dte.cmd("AT+CREG=1", "OK\r\n")
	valid := regexp.MustCompile(`^(OK|\+CSQ: 20,99|ZTE CORPORATION|RING|\+CREG: [0-5]|\^RSSI: \d+|\^BOOT:[\d,]+)$`)
	urcs := 0
	deadline := time.Now().Add(waitFor)
	for i := 0; i < 50 || urcs < 10; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d unsolicited lines in %v", urcs, waitFor)
		}
		b.dte.send("AT+CSQ;+CGMI\r")
		out := b.dte.expect("\r\nOK\r\n")
		time.Sleep(time.Millisecond)
		for _, l := range strings.Split(out, "\r\n") {
			if l == "" {
				continue
			}
			if !valid.MatchString(l) {
				t.Errorf("broken line %q", l)
			}
			if l == "RING" || strings.HasPrefix(l, "^") || strings.HasPrefix(l, "+CREG") {
				urcs++
			}
		}
	}
}

func TestParseTraceLine(t *testing.T) {
	tests := []struct {
		line string
		want traceEvent
		ok   bool
	}{
		{"usb_hub_clear_port_feature dev 2, port 1, feature power", traceEvent{false, 1, "power"}, true},
		{"1234@1700000000.123456:usb_hub_set_port_feature dev 2, port 3, feature power", traceEvent{true, 3, "power"}, true},
		{"usb_hub_set_port_feature dev 2, port 4, feature PORT_POWER", traceEvent{true, 4, "port_power"}, true},
		{"usb_hub_clear_port_feature dev 5, port 2, feature change-connection", traceEvent{false, 2, "change-connection"}, true},
		{"usb_hub_control dev 2, req 0x2303, value 8, index 1, length 0", traceEvent{}, false},
		{"usb_hub_clear_port_feature dev 2, port x, feature power", traceEvent{}, false},
		{"\x00\xff garbage", traceEvent{}, false},
	}
	for _, tt := range tests {
		got, ok := parseTraceLine(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseTraceLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFollowQemuTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qemu-trace.log")
	m := New(fastConfig())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- FollowQemuTrace(ctx, path, 2, m) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("FollowQemuTrace: %v", err)
		}
	}()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(s string) {
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write("99@1.000001:usb_hub_clear_port_feature dev 2, port 1, feature power\n")
	write("99@1.000002:usb_hub_clear_port_feature dev 2, port 2, feature enable\n")
	write("99@1.000003:usb_hub_clear_port_feature dev 2, port 2, fea") // a line in flight
	time.Sleep(20 * time.Millisecond)
	write("ture power\n")
	waitState(t, m, "power off", func(s State) bool { return !s.Powered })
	write("99@2.0:usb_hub_set_port_feature dev 2, port 2, feature power\n")
	waitState(t, m, "power on", func(s State) bool { return s.Powered && s.Booted })
}
