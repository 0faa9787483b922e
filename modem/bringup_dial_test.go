package modem

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestHangup(t *testing.T) {
	e, port, _, _ := newTestEngine(t, "hangup.txt", time.Second)
	e.guard = 100 * time.Millisecond
	start := time.Now()
	if err := Hangup(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	port.check(t)
	if el := time.Since(start); el < 2*e.guard {
		t.Errorf("hangup took %v, less than two guard times", el)
	}
}

// TestHangupAfterTimeout: a redial's hangup follows an AT the call swallowed
// (it timed out); the escape's OK ends that doubt, so ATH goes out without
// the resync's quiet after a timeout.
func TestHangupAfterTimeout(t *testing.T) {
	e, port, _, _ := newTestEngine(t, "hangup.txt", time.Second)
	e.guard = 100 * time.Millisecond
	e.stale = true
	start := time.Now()
	if err := Hangup(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	port.check(t)
	if el, most := time.Since(start), e.guard+escapeSlack+e.quiet; el >= most {
		t.Errorf("hangup took %v: ATH waited out the quiet after a timeout (at least %v)", el, most)
	}
}

func TestHangupFallsBackToDefaultGuard(t *testing.T) {
	e, port, _, _ := newTestEngine(t, "hangup_fallback.txt", time.Second)
	e.guard = 50 * time.Millisecond
	start := time.Now()
	if err := Hangup(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	port.check(t)
	// The second "+++" follows the first after the default guard time of
	// silence (its OK came at once from the script).
	if el := time.Since(start); el < DefaultGuard {
		t.Errorf("hangup took %v: the second escape did not keep the default guard time", el)
	}
}

func TestReset(t *testing.T) {
	defer func(d time.Duration) { cfunTimeout = d }(cfunTimeout)
	cfunTimeout = 200 * time.Millisecond
	e, port, _, _ := newTestEngine(t, "reset.txt", time.Second)
	ctx := context.Background()
	if err := Reset(ctx, e, false); err != nil {
		t.Errorf("radio cycle: %v", err)
	}
	if err := Reset(ctx, e, true); err != nil {
		t.Errorf("full reset: %v", err)
	}
	if err := Reset(ctx, e, true); err != nil {
		t.Errorf("full reset, modem gone: %v", err)
	}
	if err := Reset(ctx, e, false); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("refused radio cycle: %v, want ErrNotAllowed", err)
	}
	port.check(t)
}
