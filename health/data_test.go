package health

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/testenv"
)

func dataStatus() Status {
	s := sampleStatus()
	s.Data = &DataStatus{
		PeriodStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		BytesIn: 800_000_000, BytesOut: 50_000_000, BytesOwn: 2_000_000, Cap: 1_000_000_000,
		WarnAt: []float64{0.8, 0.95}, Warned: []float64{0.8},
		Today: DataDay{Date: "2026-03-02", BytesIn: 3000, BytesOut: 1000, HealthIn: 700, BytesOwn: 1024},
		Days: []DataDay{
			{Date: "2026-03-01", BytesIn: 799_997_000, BytesOut: 49_999_000, HealthIn: 9000},
			{Date: "2026-03-02", BytesIn: 3000, BytesOut: 1000, HealthIn: 700, BytesOwn: 1024},
			{Date: "2026-03-03", BytesIn: 10, BytesOut: 10, BytesOwn: 30}, // own read after the total
		},
	}
	return s
}

func TestDataMetrics(t *testing.T) {
	s := dataStatus()
	body := metrics(t, s)
	for _, want := range []string{
		`failberry_data_period_bytes{direction="in"} 8e+08`,
		`failberry_data_today_bytes{direction="out"} 1000`,
		"failberry_health_port_today_bytes 700",
		"failberry_data_period_own_bytes 2e+06",
		"failberry_data_cap_bytes 1e+09",
		`failberry_data_cap_warning{fraction="0.8"} 1`,
		`failberry_data_cap_warning{fraction="0.95"} 0`,
		"failberry_data_cap_reached 0",
		"failberry_data_cap_enforced 0",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	s.Data.CapReached, s.Data.Enforced = true, "block"
	body = metrics(t, s)
	if !strings.Contains(body, "failberry_data_cap_enforced 1\n") || !strings.Contains(body, "failberry_data_cap_reached 1\n") {
		t.Errorf("a block in force is not exported:\n%s", body)
	}
	if b := metrics(t, sampleStatus()); strings.Contains(b, "failberry_data_") {
		t.Errorf("no meter, yet data metrics:\n%s", b)
	}
	testenv.RequireTools(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestDataRender(t *testing.T) {
	s := dataStatus()
	s.Data.CapReached, s.Data.Enforced = true, "allowlist"
	var b bytes.Buffer
	RenderStatus(&b, s)
	for _, want := range []string{
		"in 800.0 MB, out 50.0 MB since 2026-03-01 (until 2026-04-01), 85.0% of the cap 1.0 GB\n",
		"cap:          reached: allowlist in force until the next period or `failberry data reset`\n",
		"  of which:   forwarded for the LAN 848.0 MB, the Pi's own 2.0 MB\n",
		"  2026-03-02: in 3.0 kB, out 1.0 kB: forwarded 3.0 kB, the Pi's own 1.0 kB (health port in 700 B)\n",
		"  2026-03-03: in 10 B, out 10 B: forwarded 0 B, the Pi's own 30 B (health port in 0 B)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
