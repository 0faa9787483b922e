package meter

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/atomicfile"
)

// clock is a fake time, moved by the tests.
type clock struct{ t time.Time }

func (c *clock) add(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

// writes counts the state file's writes and makes them for real.
type writes struct{ n int }

func (w *writes) write(path string, b []byte) error { w.n++; return atomicfile.Write(path, b) }

func open(t *testing.T, path string, cfg Config, now time.Time, w *writes) *Meter {
	t.Helper()
	m, err := Open(path, cfg, now, w.write)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func kinds(ev []Event) []EventKind {
	var k []EventKind
	for _, e := range ev {
		k = append(k, e.Kind)
	}
	return k
}

func TestPeriodBoundaries(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		day       int
		loc       *time.Location
		now       string
		start     string
		end       string
		startZone *time.Location
	}{
		{1, time.UTC, "2026-03-01T00:00:00Z", "2026-03-01", "2026-04-01", nil},
		{1, time.UTC, "2026-02-28T23:59:59Z", "2026-02-01", "2026-03-01", nil},
		{15, time.UTC, "2026-03-14T23:59:59Z", "2026-02-15", "2026-03-15", nil},
		{15, time.UTC, "2026-03-15T00:00:00Z", "2026-03-15", "2026-04-15", nil},
		{28, time.UTC, "2026-01-05T10:00:00Z", "2025-12-28", "2026-01-28", nil},
		// Days are local: 23:30 UTC on the 31st is already the 1st in Berlin.
		{1, berlin, "2026-03-31T23:30:00Z", "2026-04-01", "2026-05-01", nil},
	} {
		m, err := Open(filepath.Join(t.TempDir(), "m.json"), Config{StartDay: tc.day, Location: tc.loc}, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		now, _ := time.Parse(time.RFC3339, tc.now)
		ps := m.periodStart(now)
		if got := ps.Format(time.DateOnly); got != tc.start || ps.Hour() != 0 {
			t.Errorf("day %d at %s: period starts %v, want %s 00:00", tc.day, tc.now, ps, tc.start)
		}
		if got := m.periodEnd(ps).Format(time.DateOnly); got != tc.end {
			t.Errorf("day %d at %s: period ends %s, want %s", tc.day, tc.now, got, tc.end)
		}
	}
	for _, bad := range []int{-1, 29, 31} {
		if _, err := Open(filepath.Join(t.TempDir(), "m.json"), Config{StartDay: bad}, time.Time{}, nil); err == nil {
			t.Errorf("start day %d accepted", bad)
		}
	}
}

func TestNewPeriodZeroesAndLifts(t *testing.T) {
	c := &clock{time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC)}
	w := &writes{}
	m := open(t, filepath.Join(t.TempDir(), "m.json"), Config{Cap: 1000, Action: ActionBlock}, c.t, w)
	ev := m.Add(c.t, 600, 500)
	if got := kinds(ev); len(got) != 1 || got[0] != EventCapReached {
		t.Fatalf("events at 1100/1000 = %v, want cap reached", got)
	}
	if m.Enforced() != ActionBlock {
		t.Fatalf("enforced %q, want block", m.Enforced())
	}
	// Two days later: a new period (1 Feb) lifts the block, and the days
	// that ended get their summaries, even with no traffic.
	ev = m.Tick(c.add(48 * time.Hour))
	got := kinds(ev)
	if len(got) != 2 || got[0] != EventDay || got[1] != EventCapLifted || ev[1].Reason != "new period" {
		t.Fatalf("events on 1 Feb = %+v, want a day summary then cap lifted", ev)
	}
	if ev[0].Day.Date != "2026-01-30" || ev[0].Day.In != 600 || ev[0].Day.Out != 500 {
		t.Errorf("summary %+v, want 2026-01-30 in 600 out 500", ev[0].Day)
	}
	s := m.Snapshot()
	if s.In != 0 || s.Out != 0 || s.Capped || m.Enforced() != "" || s.PeriodStart.Format(time.DateOnly) != "2026-02-01" {
		t.Errorf("after the new period: %+v, want zero, not capped, starting 2026-02-01", s)
	}
	if ev := m.Tick(c.add(time.Hour)); len(ev) != 0 {
		t.Errorf("second tick gave %+v", ev)
	}
}

func TestWarningsOncePerPeriod(t *testing.T) {
	c := &clock{time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "m.json")
	w := &writes{}
	cfg := Config{Cap: 1000, WarnAt: []float64{0.8, 0.95}, Action: ActionWarn}
	m := open(t, path, cfg, c.t, w)
	var warned []float64
	var capped int
	step := func(n uint64) {
		for _, e := range m.Add(c.add(time.Second), n, 0) {
			switch e.Kind {
			case EventWarn:
				warned = append(warned, e.Fraction)
			case EventCapReached:
				capped++
			}
		}
	}
	for range 100 {
		step(9) // 900 bytes: past 80 %, not 95 %
	}
	if len(warned) != 1 || warned[0] != 0.8 {
		t.Fatalf("warnings at 900/1000: %v, want [0.8]", warned)
	}
	// A restart must not warn again.
	if err := m.Flush(c.t); err != nil {
		t.Fatal(err)
	}
	m = open(t, path, cfg, c.t, w)
	step(1)
	step(60) // 961: 95 %
	step(100)
	step(100)
	if len(warned) != 2 || warned[1] != 0.95 || capped != 1 {
		t.Errorf("warnings %v and %d cap events, want [0.8 0.95] and 1", warned, capped)
	}
	if m.Enforced() != "" {
		t.Errorf("action warn enforces %q", m.Enforced())
	}
	// Reset: count from zero, warnings may come again.
	m.AddShares(c.t, Shares{Own: 10})
	if ev := m.Reset(c.t); len(ev) != 1 || ev[0].Kind != EventCapLifted || ev[0].Reason != "reset" {
		t.Errorf("reset gave %+v, want cap lifted by reset", ev)
	}
	if s := m.Snapshot(); s.In+s.Out+s.Own != 0 {
		t.Errorf("after reset the period holds in %d, out %d, own %d; want zero", s.In, s.Out, s.Own)
	}
	step(850)
	if len(warned) != 3 {
		t.Errorf("after reset, warnings %v, want 0.8 again", warned)
	}
}

func TestCapDecision(t *testing.T) {
	now := time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		cfg  Config
		used uint64
		want Action
	}{
		{Config{}, 1 << 40, ""},                                   // no cap
		{Config{Cap: 100, Action: ActionBlock}, 99, ""},           // under
		{Config{Cap: 100, Action: ActionBlock}, 100, ActionBlock}, // exactly at 100 %
		{Config{Cap: 100, Action: ActionAllowlist}, 101, ActionAllowlist},
		{Config{Cap: 100, Action: ActionWarn}, 500, ""},
		{Config{Cap: 100}, 500, ""}, // the default action only warns
	} {
		m := open(t, filepath.Join(t.TempDir(), "m.json"), tc.cfg, now, &writes{})
		m.Add(now, tc.used/2, tc.used-tc.used/2)
		if got := m.Enforced(); got != tc.want {
			t.Errorf("%+v with %d bytes: enforced %q, want %q", tc.cfg, tc.used, got, tc.want)
		}
	}
}

// TestRestartPersistence: the count, the day history and the block survive
// a stop (Flush) and a new Open; a file that is not state is refused.
func TestRestartPersistence(t *testing.T) {
	c := &clock{time.Date(2026, 7, 9, 8, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "m.json")
	w := &writes{}
	cfg := Config{StartDay: 5, Cap: 5000, WarnAt: []float64{0.5}, Action: ActionAllowlist}
	m := open(t, path, cfg, c.t, w)
	m.Add(c.add(time.Second), 3000, 100)
	m.AddShares(c.t, Shares{HealthIn: 40, Own: 700})
	m.Add(c.add(time.Second), 2000, 0)
	if err := m.Flush(c.t); err != nil {
		t.Fatal(err)
	}
	m = open(t, path, cfg, c.add(time.Minute), w)
	s := m.Snapshot()
	if s.In != 5000 || s.Out != 100 || s.Own != 700 || !s.Capped || s.Action != ActionAllowlist {
		t.Errorf("after restart: %+v, want in 5000 out 100 (own 700), capped, allowlist", s)
	}
	if len(s.Days) != 1 || s.Days[0].HealthIn != 40 || s.Days[0].Own != 700 || s.Days[0].In != 5000 {
		t.Errorf("days after restart: %+v", s.Days)
	}
	if ev := m.Add(c.add(time.Second), 10, 0); len(ev) != 0 {
		t.Errorf("a restart gave events again: %+v", ev)
	}
	if err := os.WriteFile(path, []byte("{torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, cfg, c.t, w.write); err == nil {
		t.Error("a corrupt state file was read as an empty count")
	}
}

// TestWriteThrottle: a day of traffic every second writes the file once per
// SaveEvery (plus the changes a restart must see), never once per sample.
func TestWriteThrottle(t *testing.T) {
	c := &clock{time.Date(2026, 7, 9, 0, 0, 0, 0, time.UTC)}
	w := &writes{}
	m := open(t, filepath.Join(t.TempDir(), "m.json"), Config{}, c.t, w)
	for range 24 * 3600 {
		m.Add(c.add(time.Second), 1500, 100)
		if err := m.Save(c.t); err != nil {
			t.Fatal(err)
		}
	}
	// 96 quarter hours; the day summary at midnight is one more.
	t.Logf("a day of traffic every second: %d state file writes", w.n)
	if want := int(24 * time.Hour / SaveEvery); w.n < want-1 || w.n > want+1 {
		t.Errorf("%d writes in a day of traffic, want about %d", w.n, want)
	}
	m.Add(c.add(time.Second), 10, 0)
	n := w.n
	for range 3600 {
		c.add(time.Second)
		if err := m.Save(c.t); err != nil {
			t.Fatal(err)
		}
	}
	if w.n != n+1 {
		t.Errorf("an idle hour wrote %d times, want 1 (the last bytes, once)", w.n-n)
	}
	if err := m.Flush(c.t); err != nil || w.n != n+1 {
		t.Errorf("a flush with nothing new wrote (%d writes, err %v)", w.n-n-1, err)
	}
}

func TestDaysKept(t *testing.T) {
	c := &clock{time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	m := open(t, filepath.Join(t.TempDir(), "m.json"), Config{}, c.t, &writes{})
	for range 40 {
		m.Add(c.add(24*time.Hour), 1, 1)
	}
	if n := len(m.Snapshot().Days); n != keepDays {
		t.Errorf("%d days kept, want %d", n, keepDays)
	}
}

// TestClockBack: a clock that goes back (before NTP) neither starts an
// older period nor adds an older day.
func TestClockBack(t *testing.T) {
	now := time.Date(2026, 7, 9, 12, 0, 0, 0, time.UTC)
	m := open(t, filepath.Join(t.TempDir(), "m.json"), Config{Cap: 100, Action: ActionBlock}, now, &writes{})
	m.Add(now, 150, 0)
	back := now.AddDate(0, -2, 0)
	if ev := m.Add(back, 10, 0); len(ev) != 0 {
		t.Errorf("a clock two months back gave %+v", ev)
	}
	s := m.Snapshot()
	if s.In != 160 || !s.Capped || len(s.Days) != 1 || s.Days[0].In != 160 {
		t.Errorf("after the clock went back: %+v", s)
	}
}
