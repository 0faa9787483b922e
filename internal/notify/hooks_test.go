package notify

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeHook writes an executable shell script into dir.
func writeHook(t *testing.T, dir, name, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), mode); err != nil {
		t.Fatal(err)
	}
}

// safeBuffer is a log sink the hooks goroutine and the test share.
type logBuffer struct {
	ch chan string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	select {
	case b.ch <- string(p):
	default:
	}
	return len(p), nil
}

// Real executables: one that sleeps forever (and leaves a child), one that
// exits 1, one that records its environment. The first two must not stop
// the third, nor the next event; the sleeper's whole process group is
// killed at the time limit.
func TestHooksRealExecutables(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	pids := filepath.Join(out, "sleeper.pids")
	writeHook(t, dir, "10-sleeps", "sleep 1000 &\necho $! > "+pids+"\nwait\n", 0o755)
	writeHook(t, dir, "20-fails", "echo broken >&2\nexit 1\n", 0o755)
	writeHook(t, dir, "30-env", "env | grep ^FAILBERRY_ | sort > "+out+"/env.$FAILBERRY_EVENT\necho $FAILBERRY_EVENT >> "+out+"/order\n", 0o755)
	writeHook(t, dir, "30-env~", "echo backup >> "+out+"/order\n", 0o755)
	writeHook(t, dir, "40-not-executable", "echo noexec >> "+out+"/order\n", 0o644)
	writeHook(t, dir, ".hidden", "echo hidden >> "+out+"/order\n", 0o755)

	logs := &logBuffer{ch: make(chan string, 100)}
	h := &hooks{dir: dir, timeout: 500 * time.Millisecond, log: slog.New(slog.NewTextHandler(logs, nil))}
	q := newQueue("hooks", queueSize, h.log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.run(ctx, q); close(done) }()
	defer func() { cancel(); <-done }()

	at := time.Date(2026, 12, 1, 14, 2, 0, 0, time.UTC)
	start := time.Now()
	q.put(Event{Time: at, Kind: "link-down", ID: "3d216599fc544696a7292addaa60e644", Message: "ppp0 went down",
		Fields: map[string]string{"INTERFACE": "ppp0", "REASON": "lcp timeout"}})
	q.put(Event{Time: at, Kind: "link-up", ID: "bf5914265007478997244ad30c2eaabf", Message: "ppp0 is up"})

	order := filepath.Join(out, "order")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(order)
		if string(b) == "link-down\nlink-up\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hooks ran %q, want link-down then link-up, each once, and no skipped file", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Two events, each held up by the sleeper for its time limit.
	if took := time.Since(start); took < time.Second || took > 5*time.Second {
		t.Errorf("two events took %v; want about two time limits (2 x 500ms)", took)
	}
	env, err := os.ReadFile(filepath.Join(out, "env.link-down"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"FAILBERRY_EVENT=link-down", "FAILBERRY_MESSAGE_ID=3d216599fc544696a7292addaa60e644",
		"FAILBERRY_MESSAGE=ppp0 went down", "FAILBERRY_TIME=2026-12-01T14:02:00Z",
		"FAILBERRY_INTERFACE=ppp0", "FAILBERRY_REASON=lcp timeout",
	} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("hook environment lacks %s:\n%s", want, env)
		}
	}
	// The sleeper's child went with its group.
	b, _ := os.ReadFile(pids)
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if pid > 0 && alive(pid) {
			t.Errorf("the sleeping hook's child %d outlived the time limit", pid)
		}
	}
	var all bytes.Buffer
	for len(logs.ch) > 0 {
		all.WriteString(<-logs.ch)
	}
	if !strings.Contains(all.String(), "20-fails") || !strings.Contains(all.String(), "broken") {
		t.Errorf("the failing hook and its output were not logged:\n%s", all.String())
	}
}

// alive reports whether pid runs: a zombie waiting for a reaper that this
// machine's init may never be counts as gone.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// A missing directory runs nothing and says nothing.
func TestHooksMissingDir(t *testing.T) {
	h := &hooks{dir: filepath.Join(t.TempDir(), "none"), timeout: time.Second, log: slog.New(slog.DiscardHandler)}
	if got := h.list(); got != nil {
		t.Errorf("list = %v", got)
	}
}

// Publish never waits: a full queue drops and counts.
func TestQueueFullDrops(t *testing.T) {
	q := newQueue("x", 2, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		for range 5 {
			q.put(Event{Kind: "k"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("put blocked on a full queue")
	}
	if len(q.ch) != 2 || q.dropped.Load() != 3 {
		t.Errorf("queued %d, dropped %d; want 2 and 3", len(q.ch), q.dropped.Load())
	}
}
