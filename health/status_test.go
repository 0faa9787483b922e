package health

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

type staticSource Status

func (s staticSource) Status() Status { return Status(s) }

func sampleStatus() Status {
	dbm := -79
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return Status{
		State: "connected", Since: t0,
		Modem: ModemStatus{Manufacturer: "huawei", Model: "E3372", Operator: "Vodafone", AccessTech: "LTE",
			SignalDBM: &dbm, Registration: "home", SIM: "ready"},
		Link:     LinkStatus{Interface: "ppp0", Local: "10.64.1.2", Peer: "10.64.64.64", Up: true, Uptime: "2h3m", BytesIn: 123456, BytesOut: 789},
		Ladder:   LadderStatus{Step: "redial", Attempt: 2, StepsTotal: map[string]uint64{"redial": 3, "power-cycle": 1}},
		Events:   []Event{{Time: t0, Kind: "link-up", Message: "ppp0 up\nsecond line"}},
		Firewall: FirewallStatus{Applied: true},
		Probes: ProbeStats{State: StateUp, Healthy: true, Rounds: 42, BytesSpent: 2048, EstimatedBytesPerDay: 725760,
			Targets: []TargetStats{{Target: `icmp:1.1.1.1`, OK: true, LastRTT: 42 * time.Millisecond, Loss: 0.1},
				{Target: `odd"label\`, OK: false}, {Target: "two\nlines", OK: true}}},
		Route: RouteStatus{Mode: "split", OwnTraffic: "cellular", Wired: &ProbeStats{State: StateDown}},
	}
}

func get(t *testing.T, h http.Handler, method, path string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Result().Header, string(b)
}

func TestStatusHandlerJSON(t *testing.T) {
	h := NewStatusHandler(staticSource(sampleStatus()))
	code, hdr, body := get(t, h, "GET", "/status")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /status: %d %v", code, hdr)
	}
	var got Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleStatus(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestStatusHandlerRoutes(t *testing.T) {
	h := NewStatusHandler(staticSource(sampleStatus()))
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/status", 200}, {"HEAD", "/status", 200}, {"GET", "/metrics", 200}, {"HEAD", "/metrics", 200},
		{"POST", "/status", 405}, {"DELETE", "/metrics", 405}, {"PUT", "/status", 405},
		{"GET", "/", 404}, {"GET", "/debug/pprof/", 404}, {"GET", "/status/", 404}, {"GET", "/cellular", 404},
	} {
		code, _, body := get(t, h, c.method, c.path)
		if code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, code, c.code)
		}
		if c.method == "HEAD" && body != "" {
			t.Errorf("HEAD %s has a body", c.path)
		}
	}
}

func metrics(t *testing.T, s Status) string {
	t.Helper()
	code, hdr, body := get(t, NewStatusHandler(staticSource(s)), "GET", "/metrics")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %v\n%s", code, hdr, body)
	}
	return body
}

func TestMetrics(t *testing.T) {
	body := metrics(t, sampleStatus())
	for _, want := range []string{
		"# HELP failberry_link_up Whether the cellular PPP link is up with an address (1) or not (0).\n" +
			"# TYPE failberry_link_up gauge\nfailberry_link_up 1\n",
		"failberry_signal_dbm -79\n",
		`failberry_link_bytes_total{direction="in"} 123456` + "\n",
		`failberry_link_bytes_total{direction="out"} 789` + "\n",
		`failberry_probe_ok{target="icmp:1.1.1.1"} 1` + "\n",
		`failberry_probe_rtt_seconds{target="icmp:1.1.1.1"} 0.042` + "\n",
		`failberry_probe_loss_ratio{target="icmp:1.1.1.1"} 0.1` + "\n",
		`failberry_probe_ok{target="odd\"label\\"} 0` + "\n",
		`failberry_probe_ok{target="two\nlines"} 1` + "\n",
		"failberry_probe_bytes_total 2048\n",
		"failberry_probe_rounds_total 42\n",
		"# TYPE failberry_ladder_step gauge\n",
		`failberry_ladder_step{step="power-cycle"} 0` + "\n",
		`failberry_ladder_step{step="redial"} 1` + "\n",
		"failberry_ladder_attempt 2\n",
		"# TYPE failberry_recovery_steps_total counter\n",
		`failberry_recovery_steps_total{step="power-cycle"} 1` + "\n",
		`failberry_recovery_steps_total{step="redial"} 3` + "\n",
		"failberry_path_up 1\n",
		"failberry_own_traffic_cellular 1\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	// Every family has one HELP line with text and one TYPE line, and its
	// samples are contiguous after them.
	seen, last := map[string]bool{}, ""
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		f := strings.Fields(line)
		name, _, _ := strings.Cut(f[0], "{")
		if strings.HasPrefix(line, "# ") {
			if len(f) < 4 {
				t.Errorf("metadata without text: %q", line)
			}
			name = f[2]
		}
		if name != last && seen[name] {
			t.Errorf("family %s is split", name)
		}
		seen[name], last = true, name
	}
	if n := strings.Count(body, "# HELP "); n != len(seen) || n != strings.Count(body, "# TYPE ") {
		t.Errorf("%d HELP lines for %d families:\n%s", n, len(seen), body)
	}
	empty := metrics(t, Status{})
	if strings.Contains(empty, "failberry_signal_dbm") || strings.Contains(empty, "failberry_ladder_step") {
		t.Errorf("unknown values should be absent:\n%s", empty)
	}
}

// TestMetricsLadderIdle: while no recovery attempt runs, every step the
// ladder knows exports 0 (issue 11: redial exported 1 while online).
func TestMetricsLadderIdle(t *testing.T) {
	s := sampleStatus()
	s.Ladder = LadderStatus{Step: LadderIdle, StepsTotal: map[string]uint64{"redial": 3, "modem-reset": 0}}
	body := metrics(t, s)
	for _, want := range []string{
		`failberry_ladder_step{step="modem-reset"} 0` + "\n",
		`failberry_ladder_step{step="redial"} 0` + "\n",
		"failberry_ladder_attempt 0\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `step="idle"`) {
		t.Errorf("idle is not a step:\n%s", body)
	}
}

// A label value the library refuses fails the scrape with the reason rather
// than panicking in the handler or dropping the series unseen.
func TestMetricsInvalidLabel(t *testing.T) {
	s := sampleStatus()
	s.Probes.Targets = []TargetStats{{Target: "icmp:\xff"}}
	code, _, body := get(t, NewStatusHandler(staticSource(s)), "GET", "/metrics")
	if code != http.StatusInternalServerError || !strings.Contains(body, "failberry_probe_ok") || !strings.Contains(body, "UTF-8") {
		t.Errorf("GET /metrics with a non-UTF-8 target: %d %q", code, body)
	}
}

// TestMetricsPassPromtool lets Prometheus's own linter read the handler's
// output, the sample status and the empty one.
func TestMetricsPassPromtool(t *testing.T) {
	testenv.RequireTools(t, "promtool")
	gw := sampleStatus()
	gw.Route = RouteStatus{Mode: "gateway", OwnTraffic: "wired", Uplink: &UplinkStatus{Active: "primary", Since: time.Now()}}
	for name, s := range map[string]Status{"sample": sampleStatus(), "empty": {}, "gateway": gw} {
		cmd := exec.Command("promtool", "check", "metrics")
		cmd.Stdin = strings.NewReader(metrics(t, s))
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("promtool check metrics (%s status): %v\n%s", name, err, out)
		}
	}
}

func TestRenderStatus(t *testing.T) {
	var b bytes.Buffer
	RenderStatus(&b, sampleStatus())
	got := b.String()
	for _, want := range []string{
		"state:        connected since 2026-03-01T12:00:00Z\n",
		"modem:        huawei E3372\n",
		"signal:       -79 dBm (good)\n",
		"link:         ppp0 up for 2h3m\n",
		"address:      10.64.1.2 peer 10.64.64.64\n",
		"traffic:      in 123.5 kB, out 789 B\n",
		"path:         up (42 rounds, 0 skipped for traffic, probes used 2.0 kB, ~725.8 kB/day)\n",
		"recovery:     redial (attempt 2)\n",
		"firewall:     applied\n",
		"own traffic:  cellular (split mode; wired path down)\n",
		"  icmp:1.1.1.1: ok rtt 42ms loss 10%\n",
		"  2026-03-01T12:00:00Z link-up ppp0 up second line\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status text lacks %q:\n%s", want, got)
		}
	}
	b.Reset()
	RenderStatus(&b, Status{Firewall: FirewallStatus{LastError: "iptables: exit 4"}})
	if strings.Contains(b.String(), "own traffic") {
		t.Errorf("a status without split mode shows where the own traffic goes:\n%s", b.String())
	}
	for _, want := range []string{"state:        -\n", "signal:       -\n", "link:         down\n", "firewall:     not applied (last error: iptables: exit 4)\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty status lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSignalWord(t *testing.T) {
	for dbm, want := range map[int]string{-51: "excellent", -70: "excellent", -71: "good", -85: "good", -86: "fair", -100: "fair", -101: "poor", -113: "poor"} {
		if got := signalWord(dbm); got != want {
			t.Errorf("signalWord(%d) = %s, want %s", dbm, got, want)
		}
	}
}

// TestRenderGatewayStatus: gateway mode's status says which uplink carries
// the LAN, since when, a drill and the failback time, and each primary
// target's result, in place of split mode's own-traffic line; the metrics
// name the active uplink.
func TestRenderGatewayStatus(t *testing.T) {
	since := time.Date(2026, 12, 2, 10, 0, 0, 0, time.Local)
	until, back := since.Add(2*time.Minute), since.Add(3*time.Minute)
	st := Status{Route: RouteStatus{Mode: "gateway", OwnTraffic: "cellular",
		Wired:  &ProbeStats{State: "up", Targets: []TargetStats{{Target: "icmp:1.1.1.1", OK: true, LastRTT: 12 * time.Millisecond}}},
		Uplink: &UplinkStatus{Active: "cellular", Since: since, DrillUntil: &until, BackAt: &back}}}
	var b bytes.Buffer
	RenderStatus(&b, st)
	got := b.String()
	for _, want := range []string{
		"uplink:       cellular since 10:00:00 (drill until 10:02:00; primary up; back at 10:03:00)\n",
		"  primary icmp:1.1.1.1: ok rtt 12ms loss 0%\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status text lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "own traffic") {
		t.Errorf("gateway mode's status shows split mode's own-traffic line:\n%s", got)
	}
	body := metrics(t, st)
	for _, want := range []string{
		`failberry_active_uplink{uplink="cellular"} 1` + "\n",
		`failberry_active_uplink{uplink="primary"} 0` + "\n",
		"failberry_drill_running 1\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
