package systemd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// notifySocket listens on a unixgram socket and points NOTIFY_SOCKET at it.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// readAll returns the datagrams that arrive within d.
func readAll(t *testing.T, c *net.UnixConn, d time.Duration) []string {
	t.Helper()
	var got []string
	buf := make([]byte, 4096)
	deadline := time.Now().Add(d)
	for {
		_ = c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got
			}
			t.Fatalf("read: %v", err)
		}
		got = append(got, string(buf[:n]))
	}
}

// waitFor reads until a datagram equal to want arrives or d passes.
func waitFor(t *testing.T, c *net.UnixConn, want string, d time.Duration) bool {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(d))
	for {
		n, err := c.Read(buf)
		if err != nil {
			return false
		}
		if string(buf[:n]) == want {
			return true
		}
	}
}

func TestNotifierSendsReadyStatusStopping(t *testing.T) {
	c := notifySocket(t)
	n := NewNotifier()
	n.Ready()
	n.Status("dialing ttyUSB2")
	n.Status("dialing ttyUSB2") // unchanged: not sent again
	n.Status("link up\nppp0")   // newline folded
	n.Stopping()
	got := readAll(t, c, 300*time.Millisecond)
	want := []string{"READY=1", "STATUS=dialing ttyUSB2", "STATUS=link up ppp0", "STOPPING=1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
}

func TestNotifierOutsideSystemdIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	n := NewNotifier()
	n.Ready()
	n.Status("x")
	n.Stopping()
	t.Setenv("WATCHDOG_USEC", "")
	os.Unsetenv("WATCHDOG_USEC")
	done := make(chan struct{})
	go func() { n.Watchdog(context.Background(), time.Now); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watchdog without WATCHDOG_USEC did not return")
	}
}

func TestWatchdogPingsOnlyWhileMainLoopProgresses(t *testing.T) {
	c := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")
	var stuck atomic.Bool
	progress := func() time.Time {
		if stuck.Load() {
			return time.Now().Add(-time.Hour)
		}
		return time.Now()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { NewNotifier().Watchdog(ctx, progress); close(done) }()
	defer func() { cancel(); <-done }()

	if !waitFor(t, c, "WATCHDOG=1", 10*time.Second) {
		t.Fatal("no WATCHDOG=1 while the main loop progresses")
	}
	stuck.Store(true)
	time.Sleep(300 * time.Millisecond)
	readAll(t, c, 50*time.Millisecond) // drain pings decided before the loop got stuck
	if got := readAll(t, c, time.Second); slices.Contains(got, "WATCHDOG=1") {
		t.Fatalf("WATCHDOG=1 sent while the main loop is stuck: %q", got)
	}
	stuck.Store(false)
	if !waitFor(t, c, "WATCHDOG=1", 10*time.Second) {
		t.Fatal("no WATCHDOG=1 after the main loop resumed")
	}
}

func TestWatchdogIgnoresOtherPID(t *testing.T) {
	c := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", "1")
	if os.Getpid() == 1 {
		t.Setenv("WATCHDOG_PID", "2")
	}
	NewNotifier().Watchdog(context.Background(), time.Now) // returns at once
	if got := readAll(t, c, 300*time.Millisecond); len(got) != 0 {
		t.Fatalf("sent %q for another process's watchdog", got)
	}
}
