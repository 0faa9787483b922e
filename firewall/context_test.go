package firewall

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"
)

// stuckBatch stands for an iptables-save stuck on the xtables lock: its runs
// end only with their context.
type stuckBatch struct{ Tables }

func (stuckBatch) Save(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }
func (stuckBatch) Restore(ctx context.Context, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestCallsEndWithTheirContext: the daemon's stop has its own deadline
// (the unit's stop timeout), shorter than batchTimeout, so Apply and
// Cleanup must give up with the caller's context, not a background one.
func TestCallsEndWithTheirContext(t *testing.T) {
	fw := New(stuckBatch{newFake()}, stuckBatch{newFake()}, nil)
	for name, call := range map[string]func(context.Context) error{
		"Apply":   func(ctx context.Context) error { return fw.Apply(ctx, Ruleset{}) },
		"Cleanup": fw.Cleanup,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want the context's deadline", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not end with its context", name)
		}
		cancel()
	}
}

// TestRunToolEndsWithContext runs a real program that outlasts the context.
func TestRunToolEndsWithContext(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("no sleep(1) to run: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := runTool(ctx, sleep, "", "30"); err == nil {
		t.Fatal("runTool: no error from a killed run")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("runTool took %v: it did not end with its context", d)
	}
}
