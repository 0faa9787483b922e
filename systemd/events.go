package systemd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"golang.org/x/time/rate"
)

// Event is one state change as kept in memory for /status.
type Event struct {
	Time    time.Time
	Kind    string
	Message string
	Fields  map[string]string
}

// Rate limit defaults for Flapping kinds: at most FlapBurst events of one kind
// per FlapWindow; the rest are counted and summarised in one later entry.
const (
	FlapBurst  = 5
	FlapWindow = 10 * time.Minute
	recentSize = 64
)

// Events emits one structured event per state change: to the journal when it
// is available (MESSAGE_ID, PRIORITY, SYSLOG_IDENTIFIER=failberry and
// FAILBERRY_* fields), else as a readable line through the slog logger. It keeps
// the last events in a ring for /status and rate-limits Flapping kinds. Safe
// for concurrent use.
type Events struct {
	sender   Sender // nil: log through logger
	logger   *slog.Logger
	now      func() time.Time
	after    func(time.Duration, func()) // time.AfterFunc, replaceable in tests
	burst    int
	window   time.Duration
	mu       sync.Mutex
	subs     []func(Kind, Event) // see Subscribe
	ring     []Event
	next     int
	limiters map[string]*limiter
}

// limiter is a token bucket per Kind, plus the latest suppressed event so the
// final state of a flapping link always reaches the journal. The bucket is
// driven with the times Events.now gives, never the wall clock directly.
type limiter struct {
	bucket     *rate.Limiter
	suppressed int
	pending    *pendingEvent
}

type pendingEvent struct {
	kind   Kind
	msg    string
	fields map[string]string
}

// NewEvents returns Events writing to the systemd journal when journal.Enabled(),
// otherwise to logger (nil means discard).
func NewEvents(logger *slog.Logger) *Events {
	var s Sender
	if journal.Enabled() {
		s = goSystemdJournal{}
	}
	return NewEventsWithSender(logger, s)
}

// NewEventsWithSender is NewEvents with an explicit Sender (a fake in tests);
// a nil sender logs through logger.
// When a send fails the event is logged through logger instead.
func NewEventsWithSender(logger *slog.Logger, s Sender) *Events {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Events{
		sender:   s,
		logger:   logger,
		now:      time.Now,
		after:    func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		burst:    FlapBurst,
		window:   FlapWindow,
		ring:     make([]Event, 0, recentSize),
		limiters: map[string]*limiter{},
	}
}

// Emit records and writes one event. fields use short lower-case keys
// ("step", "attempt", "reason", "interface"); in the journal they become
// FAILBERRY_STEP, FAILBERRY_ATTEMPT, ... Every event goes to the in-memory ring;
// Flapping kinds beyond the rate limit are held back and summarised later.
func (e *Events) Emit(k Kind, msg string, fields map[string]string) {
	now := e.now()
	e.mu.Lock()
	e.record(Event{Time: now, Kind: k.Name, Message: msg, Fields: maps.Clone(fields)})
	if k.Flapping && !e.take(k, now) {
		e.hold(k, msg, fields, now)
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()
	e.write(k, msg, fields, 0)
}

// Subscribe makes fn see every event as it is written to the journal, with
// its Kind (for the MESSAGE_ID): the same stream, rate limit included, so an
// event a hook or a broker reports is one `journalctl MESSAGE_ID=` finds, and
// a flapping link is summarised there as here (FAILBERRY_SUPPRESSED). fn runs
// on the emitting goroutine, often the main loop: it must not block (hand
// the event to a bounded queue and return). Subscribe before the first Emit.
func (e *Events) Subscribe(fn func(Kind, Event)) {
	e.mu.Lock()
	e.subs = append(e.subs, fn)
	e.mu.Unlock()
}

// Recent returns up to n of the most recent events, oldest first.
func (e *Events) Recent(n int) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	all := make([]Event, 0, len(e.ring))
	if len(e.ring) == cap(e.ring) {
		all = append(all, e.ring[e.next:]...)
		all = append(all, e.ring[:e.next]...)
	} else {
		all = append(all, e.ring...)
	}
	if n < 0 {
		n = 0
	}
	if n < len(all) {
		all = all[len(all)-n:]
	}
	return all
}

func (e *Events) record(ev Event) {
	if len(e.ring) < cap(e.ring) {
		e.ring = append(e.ring, ev)
		return
	}
	e.ring[e.next] = ev
	e.next = (e.next + 1) % cap(e.ring)
}

// take consumes one token of k's bucket if there is one; the bucket starts
// full and refills burst tokens per window. Caller holds mu.
func (e *Events) take(k Kind, now time.Time) bool {
	l := e.limiters[k.Name]
	if l == nil {
		l = &limiter{bucket: rate.NewLimiter(rate.Every(e.window/time.Duration(e.burst)), e.burst)}
		e.limiters[k.Name] = l
	}
	return l.bucket.AllowN(now, 1)
}

// hold counts a suppressed event and, for the first one held, reserves the
// next token and schedules the summary for when it is due: the summary uses
// the token it waited for, so it never pushes the next event out. Caller
// holds mu.
func (e *Events) hold(k Kind, msg string, fields map[string]string, now time.Time) {
	l := e.limiters[k.Name]
	l.suppressed++
	first := l.pending == nil
	l.pending = &pendingEvent{kind: k, msg: msg, fields: maps.Clone(fields)}
	if !first {
		return
	}
	wait := l.bucket.ReserveN(now, 1).DelayFrom(now)
	e.after(wait, func() { e.flush(k.Name) })
}

// flush writes the latest held event of a kind with the count of suppressed ones.
func (e *Events) flush(name string) {
	e.mu.Lock()
	l := e.limiters[name]
	if l == nil || l.pending == nil {
		e.mu.Unlock()
		return
	}
	p, n := l.pending, l.suppressed
	l.pending, l.suppressed = nil, 0
	e.mu.Unlock()
	e.write(p.kind, p.msg, p.fields, n)
}

func (e *Events) write(k Kind, msg string, fields map[string]string, suppressed int) {
	if suppressed > 0 {
		msg = fmt.Sprintf("%s (rate limit: suppressed %d %s events)", msg, suppressed, k.Name)
	}
	e.publish(k, msg, fields, suppressed)
	if e.sender != nil {
		err := e.sender.Send(msg, k.Priority, journalFields(k, fields, suppressed))
		if err == nil {
			return
		}
		e.logger.Warn("journal send failed, logging to stderr", "err", err)
	}
	e.logger.Log(context.Background(), slogLevel(k.Priority), k.Name+" "+msg, logArgs(fields, suppressed)...)
}

// publish hands the event as written to the subscribers, its field names as
// in the journal without the FAILBERRY_ prefix (upper case, sanitized).
func (e *Events) publish(k Kind, msg string, fields map[string]string, suppressed int) {
	e.mu.Lock()
	subs := e.subs
	e.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	ev := Event{Time: e.now(), Kind: k.Name, Message: msg, Fields: map[string]string{}}
	for key, v := range fields {
		ev.Fields[sanitizeField(key)] = v
	}
	if suppressed > 0 {
		ev.Fields["SUPPRESSED"] = strconv.Itoa(suppressed)
	}
	for _, fn := range subs {
		fn(k, ev)
	}
}

// journalFields builds the journal fields of an event.
func journalFields(k Kind, fields map[string]string, suppressed int) map[string]string {
	out := map[string]string{
		"MESSAGE_ID":        k.ID,
		"SYSLOG_IDENTIFIER": "failberry",
		"FAILBERRY_KIND":    k.Name,
	}
	for key, v := range fields {
		out["FAILBERRY_"+sanitizeField(key)] = v
	}
	if suppressed > 0 {
		out["FAILBERRY_SUPPRESSED"] = strconv.Itoa(suppressed)
	}
	return out
}

func logArgs(fields map[string]string, suppressed int) []any {
	var args []any
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		args = append(args, strings.ToLower(k), fields[k])
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	return args
}

func slogLevel(p journal.Priority) slog.Level {
	switch {
	case p <= journal.PriErr:
		return slog.LevelError
	case p == journal.PriWarning:
		return slog.LevelWarn
	case p == journal.PriDebug:
		return slog.LevelDebug
	default:
		return slog.LevelInfo
	}
}
