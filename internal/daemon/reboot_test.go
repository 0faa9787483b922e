package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRebootGuardDailyLimitSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reboots.json")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	mk := func() *RebootGuard { // a fresh guard = a restarted daemon
		return &RebootGuard{Path: path, MaxPerDay: 2, MinUptime: 30 * time.Minute,
			Now: func() time.Time { return now }, Uptime: func() (time.Duration, error) { return time.Hour, nil }}
	}
	for i := range 2 {
		ok, why, err := mk().Allow()
		if err != nil || !ok {
			t.Fatalf("reboot %d refused: %v %s", i+1, err, why)
		}
		if err := mk().Record(); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
	}
	if ok, why, _ := mk().Allow(); ok {
		t.Fatal("third reboot within 24h allowed")
	} else {
		t.Logf("refused: %s", why)
	}
	now = now.Add(23 * time.Hour) // the first reboot is now older than a day
	if ok, why, _ := mk().Allow(); !ok {
		t.Fatalf("refused after a day: %s", why)
	}
}

func TestRebootGuardMinUptimeAndDisabled(t *testing.T) {
	g := &RebootGuard{Path: filepath.Join(t.TempDir(), "r.json"), MaxPerDay: 1, MinUptime: 30 * time.Minute,
		Uptime: func() (time.Duration, error) { return 10 * time.Minute, nil }}
	if ok, _, _ := g.Allow(); ok {
		t.Fatal("reboot allowed before min uptime")
	}
	g.MaxPerDay = 0
	g.Uptime = func() (time.Duration, error) { return time.Hour, nil }
	if ok, _, _ := g.Allow(); ok {
		t.Fatal("reboot allowed while disabled")
	}
}

func TestRebootGuardCorruptStateCountsAsFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, []byte("{torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &RebootGuard{Path: path, MaxPerDay: 3, Uptime: func() (time.Duration, error) { return time.Hour, nil }}
	if ok, _, _ := g.Allow(); ok {
		t.Fatal("a corrupt state file must not allow reboots")
	}
}

func TestProcUptime(t *testing.T) {
	p := filepath.Join(t.TempDir(), "uptime")
	os.WriteFile(p, []byte("3600.50 7000.00\n"), 0o644)
	d, err := procUptime(p)
	if err != nil || d != 3600*time.Second+500*time.Millisecond {
		t.Fatalf("got %v %v", d, err)
	}
}
