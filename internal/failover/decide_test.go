package failover

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func wantChange(t *testing.T, what string, c Change, ok bool, to Uplink, drill bool) {
	t.Helper()
	if !ok || c.To != to || c.Drill != drill {
		t.Fatalf("%s: change %+v (%v), want to %s (drill %v)", what, c, ok, to, drill)
	}
}

func wantNone(t *testing.T, what string, c Change, ok bool) {
	t.Helper()
	if ok {
		t.Fatalf("%s: change %+v, want none", what, c)
	}
}

func TestDeciderHoldsBeforeFailback(t *testing.T) {
	d := NewDecider(60*time.Second, at(0))
	c, ok := d.Probes(at(10), false)
	wantChange(t, "probes fail", c, ok, Cellular, false)
	c, ok = d.Probes(at(100), true)
	wantNone(t, "probes pass again", c, ok)
	if got := d.Next(); !got.Equal(at(160)) {
		t.Fatalf("Next = %v, want the hold's end %v", got, at(160))
	}
	// A failure inside the hold starts it over.
	c, ok = d.Probes(at(130), false)
	wantNone(t, "fails inside the hold", c, ok)
	c, ok = d.Probes(at(140), true)
	wantNone(t, "passes again", c, ok)
	c, ok = d.Tick(at(199))
	wantNone(t, "1 s before the new hold's end", c, ok)
	c, ok = d.Tick(at(200))
	wantChange(t, "hold over", c, ok, Primary, false)
	if s := d.State(); s.Active != Primary || !s.Since.Equal(at(200)) || !s.BackAt.IsZero() {
		t.Fatalf("state after failback = %+v", s)
	}
}

func TestDeciderDrill(t *testing.T) {
	d := NewDecider(30*time.Second, at(0))
	c, ok := d.Drill(at(5), at(65))
	wantChange(t, "drill starts", c, ok, Cellular, true)
	c, ok = d.Probes(at(20), true)
	wantNone(t, "probes pass during the drill", c, ok)
	if got := d.Next(); !got.Equal(at(65)) {
		t.Fatalf("Next = %v, want the drill's end", got)
	}
	c, ok = d.Tick(at(65))
	wantNone(t, "drill over: the hold starts", c, ok)
	if got := d.Next(); !got.Equal(at(95)) {
		t.Fatalf("Next = %v, want the hold's end after the drill %v", got, at(95))
	}
	c, ok = d.Tick(at(95))
	wantChange(t, "hold after the drill", c, ok, Primary, true)
}

func TestDeciderDrillStoppedEarly(t *testing.T) {
	d := NewDecider(10*time.Second, at(0))
	d.Drill(at(0), at(600))
	c, ok := d.Drill(at(30), time.Time{})
	wantNone(t, "stopped", c, ok)
	c, ok = d.Tick(at(40))
	wantChange(t, "hold after the stop", c, ok, Primary, true)
}

func TestDeciderProbesDownDuringDrill(t *testing.T) {
	d := NewDecider(10*time.Second, at(0))
	d.Drill(at(0), at(20))
	d.Probes(at(5), false)
	c, ok := d.Tick(at(20))
	wantNone(t, "drill over, primary really down", c, ok)
	if !d.Next().IsZero() {
		t.Fatalf("Next = %v while the primary fails, want none", d.Next())
	}
	d.Probes(at(50), true)
	c, ok = d.Tick(at(60))
	wantChange(t, "primary back", c, ok, Primary, true)
}

func TestDrillFile(t *testing.T) {
	dir := t.TempDir()
	f := DrillFile{Path: filepath.Join(dir, "drill.json"), Write: func(p string, b []byte) error { return os.WriteFile(p, b, 0o644) }}
	if u, err := f.Load(at(0)); err != nil || !u.IsZero() {
		t.Fatalf("Load without a file = %v, %v", u, err)
	}
	if err := f.Save(at(120)); err != nil {
		t.Fatal(err)
	}
	if u, err := f.Load(at(60)); err != nil || !u.Equal(at(120)) {
		t.Fatalf("Load during the drill = %v, %v", u, err)
	}
	if u, err := f.Load(at(120)); err != nil || !u.IsZero() {
		t.Fatalf("Load after the drill = %v, %v", u, err)
	}
	if _, err := os.Stat(f.Path); !os.IsNotExist(err) {
		t.Fatalf("a drill that is over is still stored: %v", err)
	}
	if err := os.WriteFile(f.Path, []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if u, err := f.Load(at(0)); err == nil || !u.IsZero() {
		t.Fatalf("Load of garbage = %v, %v; want an error and no drill", u, err)
	}
	if _, err := os.Stat(f.Path); !os.IsNotExist(err) {
		t.Fatalf("garbage drill state left in place: %v", err)
	}
}
