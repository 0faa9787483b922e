package sim

import (
	"testing"
	"time"
)

// FuzzModemInput feeds arbitrary bytes to the command parser, the data
// relay and the PPP scanner, in every fault mode: nothing may panic and
// queued output stays bounded.
func FuzzModemInput(f *testing.F) {
	f.Add([]byte("AT+CPIN=\"1234\"\rATD*99#\r"), byte(0))
	f.Add([]byte("ATQ0 V1 E1 S0=0 &C1 &D2 +FCLASS=0\r\nAT+CGDCONT=1,\"IP\",\"apn\";+CGDCONT?\r"), byte(1))
	f.Add([]byte("AT+CMEE=2;+CREG=2;+CREG?;+CGREG=?;+CEREG=\r+CPIN=\"a\",\"b\",\"c\"\r"), byte(2))
	f.Add(append([]byte("ATD*99***1#\r~"), lcpEchoReq...), byte(3))
	f.Add([]byte("AT+CFUN=1,1\rAT+COPS=?\rATS7=999999999999999999999\rAT+CGDCONT=99999999999999999999,\"IP\"\r"), byte(4))
	f.Add([]byte("\x00\xff\x7e\x7d\x7e\x7dAT\x08\x08AT\r\"\"\";;;;+\r"), byte(5))
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		cfg := fastConfig()
		cfg.PIN = "1234"
		cfg.URCMeanInterval = time.Millisecond
		m := New(cfg)
		m.OnReboot = func() {}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.fault = Faults[int(mode)%len(Faults)]
		now := time.Now()
		m.fromDTE(now, []byte("AT+CPIN=\"1234\";+CGDCONT=1,\"IP\",\"x\"\rATD*99#\r"))
		for i := 0; i < len(data); i += 7 {
			now = now.Add(300 * time.Millisecond)
			m.tick(now)
			part := data[i:min(i+7, len(data))]
			if mode&0x10 != 0 {
				m.fromCarrier(part)
			}
			m.fromDTE(now, part)
		}
		m.tick(now.Add(time.Hour))
		if len(m.dteOut) > maxPending || len(m.carOut) > maxPending || len(m.v.line) > maxLine ||
			len(m.v.up.raw) > maxFrame || len(m.v.down.raw) > maxFrame {
			t.Fatalf("unbounded state: out %d/%d line %d", len(m.dteOut), len(m.carOut), len(m.v.line))
		}
	})
}
