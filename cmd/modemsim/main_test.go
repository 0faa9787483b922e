package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/modem/sim"
)

// fakeModem records what the control protocol asked for.
type fakeModem struct {
	fault sim.Fault
	power []string
}

func (f *fakeModem) SetFault(x sim.Fault) { f.fault = x }
func (f *fakeModem) PowerOff()            { f.power = append(f.power, "off") }
func (f *fakeModem) PowerOn()             { f.power = append(f.power, "on") }
func (f *fakeModem) Snapshot() sim.State  { return sim.State{Powered: true, Fault: f.fault, Calls: 3} }
func (f *fakeModem) Transcript() string   { return "a\n.\nb\n" }

func TestControlProtocol(t *testing.T) {
	in := "fault hang\nfault bogus\npower off\npower on\nstatus\ntranscript\n\nwhat\n"
	var out bytes.Buffer
	f := &fakeModem{}
	handleControl(strings.NewReader(in), &out, f, slog.New(slog.DiscardHandler))
	want := []string{
		"ok",
		"error: unknown fault",
		"ok",
		"ok",
		`{"powered":true,"booted":false,"online":false,"call_up":false,"registered":false,"reg_stat":0,` +
			`"pin_attempts_left":0,"puk_required":false,"fault":"hang","calls":3,"pin_tries":0,"sim_locks":0,"pin_refused":0,"echo":false,` +
			`"cfun":0,"bytes_up":0,"bytes_down":0,"first_lcp_ns":0}`,
		"a", "..", "b", ".",
		"error: empty command",
		`error: unknown command "what"`,
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("replies:\n%s", out.String())
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("reply %d = %q, want %q", i, got[i], want[i])
		}
	}
	if f.fault != sim.FaultHang || strings.Join(f.power, ",") != "off,on" {
		t.Errorf("modem got fault %q power %v", f.fault, f.power)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--dte", "/tmp/m.sock", "--pin", "1234", "--boot-delay", "-1s", "--roaming", "--hub-port", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if o.dte != "/tmp/m.sock" || o.cfg.PIN != "1234" || o.cfg.BootDelay != -time.Second || !o.cfg.Roaming || o.hubPort != 3 {
		t.Errorf("parsed %+v", o)
	}
	for _, bad := range [][]string{{"--fault", "nope"}, {"extra"}, {"--boot-delay", "soon"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}
