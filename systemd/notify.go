// Package systemd connects failberry to the service manager: readiness and status
// notifications, a watchdog that only pings while the main loop makes progress,
// a clean environment for child processes (pppd), and one structured journal event
// per state change with a fixed MESSAGE_ID per kind, explained by failberry.catalog.
//
// Everything here is a no-op or falls back to stderr outside systemd, so the same
// binary runs from a shell, under systemd, and in tests.
package systemd

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify(3) messages to the service manager. Outside systemd
// (no NOTIFY_SOCKET) every method does nothing. The zero value is not usable;
// call NewNotifier. Safe for concurrent use.
type Notifier struct {
	notify func(state string) (bool, error)
	now    func() time.Time

	mu         sync.Mutex
	lastStatus string
}

// NewNotifier returns a Notifier over go-systemd's daemon.SdNotify. It reads
// NOTIFY_SOCKET on every send, so it can be created before the environment is final.
func NewNotifier() *Notifier {
	return &Notifier{
		notify: func(state string) (bool, error) { return daemon.SdNotify(false, state) },
		now:    time.Now,
	}
}

// Ready tells systemd that start-up is complete (READY=1): call it once the
// config is loaded and the listeners are bound, so `systemctl start` returns
// only when the daemon can serve.
func (n *Notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Status sends a one-line human state (STATUS=...) shown by `systemctl status`.
// It only sends when the line changed, so it may be called on every loop tick.
// Newlines are replaced with spaces because the protocol is line based.
func (n *Notifier) Status(line string) {
	line = strings.ReplaceAll(line, "\n", " ")
	n.mu.Lock()
	if line == n.lastStatus {
		n.mu.Unlock()
		return
	}
	n.lastStatus = line
	n.mu.Unlock()
	n.send("STATUS=" + line)
}

// Stopping tells systemd that shutdown has begun (STOPPING=1), so a slow
// teardown of pppd and the firewall is not mistaken for a hang.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// Watchdog pings systemd's watchdog (WATCHDOG=1) every half of WATCHDOG_USEC
// until ctx is done, but only while progress() — the time of the main loop's
// last tick — is more recent than one watchdog interval. A stuck main loop
// therefore stops the pings and systemd restarts the service, which a
// free-running ticker goroutine would hide. Without WATCHDOG_USEC (or when
// WATCHDOG_PID names another process) it returns at once.
func (n *Notifier) Watchdog(ctx context.Context, progress func() time.Time) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n.now().Sub(progress()) < interval {
				n.send(daemon.SdNotifyWatchdog)
			}
		}
	}
}

func (n *Notifier) send(state string) {
	// Errors are ignored on purpose: a missing or full notify socket must never
	// take the modem link down; systemd's own timeouts report the problem.
	_, _ = n.notify(state)
}
