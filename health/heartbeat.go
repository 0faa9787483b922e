package health

import (
	"io"
	"log"
	"sync/atomic"
	"time"
)

var discardLog = log.New(io.Discard, "", 0)

// Heartbeat is a Liveness for the daemon's main loop: the loop calls Beat on
// every tick, and Alive reports whether the last beat is younger than MaxAge.
// Reads and writes are atomic, so the public endpoint never waits for the loop.
// Last also serves as the progress function of the systemd watchdog.
type Heartbeat struct {
	maxAge time.Duration
	now    func() time.Time
	last   atomic.Int64 // unix nanoseconds; 0 = never
}

// NewHeartbeat returns a Heartbeat that counts as alive for maxAge after each beat.
func NewHeartbeat(maxAge time.Duration) *Heartbeat {
	return &Heartbeat{maxAge: maxAge, now: time.Now}
}

// Beat records progress of the main loop.
func (h *Heartbeat) Beat() { h.last.Store(h.now().UnixNano()) }

// Last returns the time of the last beat (the zero time before the first).
func (h *Heartbeat) Last() time.Time {
	n := h.last.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Alive implements Liveness.
func (h *Heartbeat) Alive() bool {
	n := h.last.Load()
	return n != 0 && h.now().Sub(time.Unix(0, n)) <= h.maxAge
}
