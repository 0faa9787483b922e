package systemd

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/failberry/failberry/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

type sent struct {
	Msg    string
	Pri    journal.Priority
	Fields map[string]string
}

type fakeSender struct {
	mu   sync.Mutex
	got  []sent
	fail error
}

func (f *fakeSender) Send(msg string, p journal.Priority, fields map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.got = append(f.got, sent{msg, p, fields})
	return nil
}

func (f *fakeSender) all() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func TestEmitJournalFields(t *testing.T) {
	s := &fakeSender{}
	e := NewEventsWithSender(nil, s)
	e.Emit(RecoveryStep, "power-cycle", map[string]string{"step": "power-cycle", "attempt": "1", "reason": "no carrier", "bad key-é": "v"})
	want := []sent{{
		Msg: "power-cycle",
		Pri: journal.PriWarning,
		Fields: map[string]string{
			"MESSAGE_ID":          RecoveryStep.ID,
			"SYSLOG_IDENTIFIER":   "failberry",
			"FAILBERRY_KIND":      "recovery-step",
			"FAILBERRY_STEP":      "power-cycle",
			"FAILBERRY_ATTEMPT":   "1",
			"FAILBERRY_REASON":    "no carrier",
			"FAILBERRY_BAD_KEY__": "v",
		},
	}}
	if diff := cmp.Diff(want, s.all()); diff != "" {
		t.Errorf("journal entries (-want +got):\n%s", diff)
	}
	valid := regexp.MustCompile(`^[A-Z0-9][A-Z0-9_]*$`)
	for k := range s.all()[0].Fields {
		if !valid.MatchString(k) {
			t.Errorf("invalid journal field name %q", k)
		}
	}
}

func TestEmitFallsBackToLogger(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := NewEventsWithSender(logger, nil)
	e.Emit(RecoveryStep, "power-cycle", map[string]string{"attempt": "1", "reason": "no carrier"})
	got := buf.String()
	for _, want := range []string{"level=WARN", `msg="recovery-step power-cycle"`, "attempt=1", `reason="no carrier"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log line %q lacks %q", got, want)
		}
	}
	buf.Reset()
	failing := NewEventsWithSender(logger, &fakeSender{fail: errors.New("no journal")})
	failing.Emit(LinkUp, "ppp0 up", nil)
	if got := buf.String(); !strings.Contains(got, "link-up ppp0 up") || !strings.Contains(got, "journal send failed") {
		t.Errorf("failed send not logged: %q", got)
	}
}

func TestRecentRing(t *testing.T) {
	e := NewEventsWithSender(nil, &fakeSender{})
	if got := e.Recent(5); len(got) != 0 {
		t.Fatalf("Recent on empty = %v", got)
	}
	for i := range recentSize + 10 {
		e.Emit(ModemError, fmt.Sprint(i), nil)
	}
	got := e.Recent(3)
	var msgs []string
	for _, ev := range got {
		msgs = append(msgs, ev.Message)
	}
	n := recentSize + 10
	want := []string{fmt.Sprint(n - 3), fmt.Sprint(n - 2), fmt.Sprint(n - 1)}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("Recent(3) (-want +got):\n%s", diff)
	}
	if got := e.Recent(1000); len(got) != recentSize || got[0].Message != "10" {
		t.Errorf("Recent(1000): len %d first %q", len(got), got[0].Message)
	}
	if got := e.Recent(-1); len(got) != 0 {
		t.Errorf("Recent(-1) = %v", got)
	}
}

func TestFlappingRateLimitedWithSummary(t *testing.T) {
	s := &fakeSender{}
	e := NewEventsWithSender(nil, s)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return now }
	var timers []func()
	e.after = func(d time.Duration, f func()) {
		if d <= 0 || d > FlapWindow {
			t.Errorf("summary scheduled after %v", d)
		}
		timers = append(timers, f)
	}
	for i := range 20 {
		e.Emit(LinkDown, fmt.Sprintf("down %d", i), nil)
		e.Emit(RecoveryStep, "redial", nil) // not flapping: never limited
	}
	downs := 0
	for _, g := range s.all() {
		if g.Fields["FAILBERRY_KIND"] == "link-down" {
			downs++
		}
	}
	if downs != FlapBurst {
		t.Errorf("link-down entries before summary = %d, want %d", downs, FlapBurst)
	}
	if len(e.Recent(100)) != 40 {
		t.Errorf("ring should keep every event, has %d", len(e.Recent(100)))
	}
	if len(timers) != 1 {
		t.Fatalf("%d summaries scheduled, want 1", len(timers))
	}
	now = now.Add(FlapWindow / FlapBurst)
	timers[0]()
	all := s.all()
	last := all[len(all)-1]
	if last.Fields["FAILBERRY_SUPPRESSED"] != "15" || !strings.HasPrefix(last.Msg, "down 19") || !strings.Contains(last.Msg, "suppressed 15") {
		t.Errorf("summary = %+v, want latest state with 15 suppressed", last)
	}
	timers[0]() // a second flush has nothing to say
	if len(s.all()) != len(all) {
		t.Error("empty flush wrote an entry")
	}
	// The summary spent the token it waited for: the next event at once is
	// held again, with a summary one refill later.
	e.after = func(d time.Duration, f func()) {
		if d != FlapWindow/FlapBurst {
			t.Errorf("second summary scheduled after %v, want %v", d, FlapWindow/FlapBurst)
		}
		timers = append(timers, f)
	}
	e.Emit(LinkDown, "still flapping", nil)
	if len(s.all()) != len(all) || len(timers) != 2 {
		t.Errorf("an event right after the summary was written (%d entries, %d summaries scheduled)", len(s.all())-len(all), len(timers))
	}
	now = now.Add(FlapWindow)
	e.Emit(LinkDown, "down again", nil)
	if got := s.all(); got[len(got)-1].Msg != "down again" {
		t.Errorf("after the window the bucket should be full again, last = %q", got[len(got)-1].Msg)
	}
}

func TestSanitizeField(t *testing.T) {
	for in, want := range map[string]string{
		"step": "STEP", "_x": "X", "": "X", "9lives": "X9LIVES", "a-b.c": "A_B_C",
		strings.Repeat("a", 100): strings.Repeat("A", 64),
	} {
		if got := sanitizeField(in); got != want {
			t.Errorf("sanitizeField(%q) = %q, want %q", in, got, want)
		}
	}
}

// parseCatalog returns id -> header fields of each entry in a journal catalog.
func parseCatalog(t *testing.T, text string) map[string]map[string]string {
	t.Helper()
	entries := map[string]map[string]string{}
	var cur map[string]string
	inHeader := false
	for i, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "-- "):
			id := strings.TrimPrefix(line, "-- ")
			if _, dup := entries[id]; dup {
				t.Errorf("line %d: duplicate id %s", i+1, id)
			}
			cur = map[string]string{}
			entries[id] = cur
			inHeader = true
		case cur == nil || !inHeader:
			if line != "" && !strings.HasPrefix(line, "#") && cur == nil {
				t.Errorf("line %d outside an entry: %q", i+1, line)
			}
		case line == "":
			inHeader = false
		default:
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				t.Errorf("line %d: bad header %q", i+1, line)
			}
			cur[k] = v
		}
	}
	return entries
}

func TestCatalogCoversEveryKind(t *testing.T) {
	b, err := os.ReadFile("failberry.catalog")
	if err != nil {
		t.Fatal(err)
	}
	entries := parseCatalog(t, string(b))
	idRE := regexp.MustCompile(`^[0-9a-f]{32}$`)
	ids, names := map[string]bool{}, map[string]bool{}
	for _, k := range AllKinds() {
		if !idRE.MatchString(k.ID) {
			t.Errorf("%s: malformed id %q", k.Name, k.ID)
		}
		if ids[k.ID] || names[k.Name] {
			t.Errorf("%s: duplicate id or name", k.Name)
		}
		ids[k.ID], names[k.Name] = true, true
		e, ok := entries[k.ID]
		if !ok {
			t.Errorf("%s: no catalog entry for %s", k.Name, k.ID)
			continue
		}
		if e["Subject"] == "" || e["Defined-By"] != "failberry" || e["Support"] == "" {
			t.Errorf("%s: incomplete header %v", k.Name, e)
		}
	}
	for id := range entries {
		if !ids[id] {
			t.Errorf("catalog entry %s matches no Kind", id)
		}
	}
	if !strings.Contains(string(b), "\n\n") {
		t.Error("catalog entries have no body")
	}
}

// TestCatalogAcceptedByJournalctl lets journalctl itself compile the catalog.
func TestCatalogAcceptedByJournalctl(t *testing.T) {
	testenv.RequireTools(t, "journalctl")
	root := t.TempDir()
	dir := filepath.Join(root, "usr/lib/systemd/catalog")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("failberry.catalog")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "failberry.catalog"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("journalctl", "--root="+root, "--update-catalog").CombinedOutput(); err != nil {
		t.Fatalf("update-catalog: %v\n%s", err, out)
	}
	out, err := exec.Command("journalctl", "--root="+root, "--list-catalog").CombinedOutput()
	if err != nil {
		t.Fatalf("list-catalog: %v\n%s", err, out)
	}
	for _, k := range AllKinds() {
		if !strings.Contains(string(out), k.ID) {
			t.Errorf("journalctl did not index %s (%s):\n%s", k.Name, k.ID, out)
		}
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit; a missing
// /usr/sbin/failberry is the only complaint allowed outside a packaged system.
func TestUnitVerifies(t *testing.T) {
	testenv.RequireTools(t, "systemd-analyze")
	out, _ := exec.Command("systemd-analyze", "verify", "./failberry.service").CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" || strings.Contains(line, "/usr/sbin/failberry is not executable") {
			continue
		}
		t.Errorf("systemd-analyze verify: %s", line)
	}
}

// AllKinds lists every Kind, for the catalog tests.
func AllKinds() []Kind {
	return []Kind{LinkUp, LinkDown, RecoveryStep, RecoveryExhausted, ModemError, SIMError,
		RegistrationError, ConfigError, FirewallRepaired, PathDown, PathUp, DaemonStarted, DaemonStopped,
		CarrierNAT, DNSPublished, DNSFailed, DataDaily, DataWarning, DataCapReached, DataCapLifted, OwnTraffic,
		Failover, Failback}
}

// A subscriber sees what the journal gets: the same events, the flapping
// ones held back and summarised, field names as in the journal.
func TestSubscribeSeesJournalStream(t *testing.T) {
	s := &fakeSender{}
	e := NewEventsWithSender(nil, s)
	var timers []func()
	e.after = func(_ time.Duration, f func()) { timers = append(timers, f) }
	var got []Event
	var ids []string
	e.Subscribe(func(k Kind, ev Event) { got, ids = append(got, ev), append(ids, k.ID) })
	e.Emit(RecoveryStep, "redial", map[string]string{"step": "redial", "x-y": "1"})
	for i := range FlapBurst + 3 {
		e.Emit(LinkDown, fmt.Sprintf("down %d", i), nil)
	}
	timers[0]()
	if len(got) != len(s.all()) {
		t.Fatalf("subscriber saw %d events, journal got %d", len(got), len(s.all()))
	}
	if got[0].Kind != "recovery-step" || ids[0] != RecoveryStep.ID || got[0].Fields["STEP"] != "redial" || got[0].Fields["X_Y"] != "1" {
		t.Errorf("first event = %+v (id %s)", got[0], ids[0])
	}
	last := got[len(got)-1]
	if last.Fields["SUPPRESSED"] != "3" || !strings.HasPrefix(last.Message, "down 7") {
		t.Errorf("summary = %+v, want the latest with SUPPRESSED=3", last)
	}
}
