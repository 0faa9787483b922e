package daemon

import (
	"bytes"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/systemd"
)

// statusOutputs is what `failberry status` prints on its recovery line and
// the ladder samples /metrics serves, both built from d.Status().
func statusOutputs(t *testing.T, d *Daemon) (recovery string, ladder []string) {
	t.Helper()
	var text bytes.Buffer
	health.RenderStatus(&text, d.Status())
	recovery = regexp.MustCompile(`(?m)^recovery: +(.*)$`).FindStringSubmatch(text.String())[1]
	rec := httptest.NewRecorder()
	health.NewStatusHandler(d).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "failberry_ladder_") || strings.HasPrefix(line, "failberry_recovery_steps_total{") {
			ladder = append(ladder, line)
		}
	}
	return recovery, ladder
}

// TestStatusLadderIdleWhileOnline: once the link is up no recovery attempt
// runs, so status says idle and the ladder_step metric is 0 for every step
// (issue 11: it said "redial" and exported redial 1 while online).
func TestStatusLadderIdleWhileOnline(t *testing.T) {
	d := &Daemon{st: newState(), events: systemd.NewEventsWithSender(nil, nil)}
	allZero := []string{
		"failberry_ladder_attempt 0",
		`failberry_ladder_step{step="modem-reset"} 0`,
		`failberry_ladder_step{step="power-cycle"} 0`,
		`failberry_ladder_step{step="reboot"} 0`,
		`failberry_ladder_step{step="redial"} 0`,
		`failberry_ladder_step{step="wait"} 0`,
	}
	for _, c := range []struct {
		name     string
		step     Step
		attempt  int
		recovery string
		ladder   []string
	}{
		{"at start", StepRedial, 0, "idle", append(allZero,
			`failberry_recovery_steps_total{step="modem-reset"} 0`, `failberry_recovery_steps_total{step="power-cycle"} 0`,
			`failberry_recovery_steps_total{step="reboot"} 0`, `failberry_recovery_steps_total{step="redial"} 0`,
			`failberry_recovery_steps_total{step="wait"} 0`)},
		{"resetting the modem", StepModemReset, 2, "modem-reset (attempt 2)", []string{
			"failberry_ladder_attempt 2",
			`failberry_ladder_step{step="modem-reset"} 1`, `failberry_ladder_step{step="power-cycle"} 0`,
			`failberry_ladder_step{step="reboot"} 0`, `failberry_ladder_step{step="redial"} 0`,
			`failberry_ladder_step{step="wait"} 0`,
			`failberry_recovery_steps_total{step="modem-reset"} 1`, `failberry_recovery_steps_total{step="power-cycle"} 0`,
			`failberry_recovery_steps_total{step="reboot"} 0`, `failberry_recovery_steps_total{step="redial"} 0`,
			`failberry_recovery_steps_total{step="wait"} 0`}},
		// what the online session records when the link comes up
		{"online", StepRedial, 0, "idle", append(allZero,
			`failberry_recovery_steps_total{step="modem-reset"} 1`, `failberry_recovery_steps_total{step="power-cycle"} 0`,
			`failberry_recovery_steps_total{step="reboot"} 0`, `failberry_recovery_steps_total{step="redial"} 0`,
			`failberry_recovery_steps_total{step="wait"} 0`)},
	} {
		d.st.setLadder(c.step, c.attempt)
		recovery, ladder := statusOutputs(t, d)
		if recovery != c.recovery {
			t.Errorf("%s: status says recovery: %q, want %q", c.name, recovery, c.recovery)
		}
		if got, want := strings.Join(ladder, "\n"), strings.Join(c.ladder, "\n"); got != want {
			t.Errorf("%s: ladder metrics\n%s\nwant\n%s", c.name, got, want)
		}
	}
}
