package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/modem"
)

// silentPort is a hung modem: it swallows every write and never answers.
type silentPort struct {
	mu      sync.Mutex
	writes  []string
	timeout time.Duration
}

func (p *silentPort) Read(b []byte) (int, error) {
	p.mu.Lock()
	t := p.timeout
	p.mu.Unlock()
	if t < 0 {
		t = 50 * time.Millisecond
	}
	time.Sleep(min(t, 50*time.Millisecond))
	return 0, nil
}

func (p *silentPort) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writes = append(p.writes, string(b))
	return len(b), nil
}

func (p *silentPort) SetReadTimeout(t time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timeout = t
	return nil
}

// A modem that answers neither AT, nor the +++ escape, nor ATH is hung: wake
// says so at once instead of trying one more AT (issue 11: hang to power off
// within 10 s).
func TestWakeGivesUpOnAModemSilentThroughTheEscape(t *testing.T) {
	d := &Daemon{st: newState(), log: slog.New(slog.DiscardHandler)}
	p := &silentPort{}
	eng := modem.NewEngine(p, modem.EngineOptions{Timeout: time.Second})
	err := d.wake(context.Background(), eng)
	if !errors.Is(err, modem.ErrNoResponse) {
		t.Fatalf("wake on a silent modem: %v, want ErrNoResponse", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	last := strings.TrimSpace(p.writes[len(p.writes)-1])
	if last != "ATH" {
		t.Errorf("after an unanswered escape and ATH, wake still sent %q (writes %q)", last, p.writes)
	}
}
