// Package meter counts what the metered cellular link carries: bytes in and
// out per day and per billing period, the shares of the health port and of
// the Pi's own traffic (the rest was forwarded for the LAN), and the
// monthly cap's decision (warnings once per period, the action at 100 %).
//
// It is fed deltas (the daemon computes them from the link's counters) and
// keeps its state in one small file written atomically, at most every
// SaveEvery and at once when a warning, the cap or a new period changes what
// must survive a restart: the SD card sees a few writes an hour, and a
// restart neither re-warns nor lifts a block. Bytes counted since the last
// save are lost by a crash or a power cut (at most SaveEvery's worth); a
// clean stop saves them.
package meter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"
)

// SaveEvery is the longest time counted bytes wait in memory before they
// are written: an SD card wears with every write, and a quarter of an hour
// of traffic is what a crash may lose.
const SaveEvery = 15 * time.Minute

// keepDays is how many days of history the state file keeps (a period's
// worth, for `failberry status`).
const keepDays = 31

// Action is what happens once the cap is reached.
type Action string

// The cap's actions: warn only, forward only the allowlisted LAN hosts, or
// forward nothing out over cellular.
const (
	ActionWarn      Action = "warn"
	ActionAllowlist Action = "allowlist"
	ActionBlock     Action = "block"
)

// Config is the meter's settings. The zero value counts without a cap, with
// periods starting on the 1st, in UTC.
type Config struct {
	// StartDay is the billing period's first day of the month, 1..28 (a
	// period cannot start on a day some months lack); 0 means 1.
	StartDay int
	// Cap is the period's allowance in bytes (in plus out); 0: no cap.
	Cap int64
	// WarnAt are fractions of Cap (0 < f < 1) warned about once per period.
	WarnAt []float64
	// Action is taken at 100 %; empty means ActionWarn.
	Action Action
	// Location is the time zone of days and periods (the Pi's local time);
	// nil means UTC.
	Location *time.Location
}

// Day is one day's traffic.
type Day struct {
	Date     string `json:"date"` // 2006-01-02 in Config.Location
	In       uint64 `json:"in"`
	Out      uint64 `json:"out"`
	HealthIn uint64 `json:"health_in"` // inbound to the health port, part of In
	Own      uint64 `json:"own"`       // the Pi's own traffic, part of In+Out
	Reported bool   `json:"reported"`  // its summary event was given
}

// state is what the file keeps.
type state struct {
	Version int `json:"version"`
	// PeriodStart is the start of the period the totals belong to.
	PeriodStart time.Time `json:"period_start"`
	In          uint64    `json:"in"`
	Out         uint64    `json:"out"`
	Own         uint64    `json:"own"`              // the Pi's own share of In+Out
	Warned      []float64 `json:"warned,omitempty"` // fractions warned this period
	Capped      bool      `json:"capped"`           // the cap was reached this period
	Days        []Day     `json:"days"`             // oldest first
}

// EventKind says what an Event reports.
type EventKind int

// The events Add and Tick return, for the journal.
const (
	// EventDay is the summary of a day that ended (Day).
	EventDay EventKind = iota
	// EventWarn is a warning fraction reached (Fraction).
	EventWarn
	// EventCapReached is 100 % of the cap: the action starts.
	EventCapReached
	// EventCapLifted is a new period or a reset ending the action.
	EventCapLifted
)

// Event is a change worth a journal line.
type Event struct {
	Kind     EventKind
	Day      Day     // EventDay
	Fraction float64 // EventWarn
	Used     uint64  // the period's bytes when it happened
	Cap      int64
	Reason   string // EventCapLifted: "new period" or "reset"
}

// Meter is the running count. Its methods are safe for concurrent use.
type Meter struct {
	mu    sync.Mutex
	cfg   Config
	path  string
	write func(path string, data []byte) error
	st    state

	dirty    bool      // counted bytes not yet written
	urgent   bool      // a change a restart must see: write at the next Save
	lastSave time.Time // the last write (or the load)
}

// Open loads the state at path (none yet: an empty count) and returns the
// Meter that continues it. write stores the file (atomicfile.Write; tests
// count calls). A file that cannot be read as state is an error rather than
// a silent zero, which would lift a block.
func Open(path string, cfg Config, now time.Time, write func(string, []byte) error) (*Meter, error) {
	if cfg.StartDay == 0 {
		cfg.StartDay = 1
	}
	if cfg.StartDay < 1 || cfg.StartDay > 28 {
		return nil, fmt.Errorf("meter: period start day %d out of range 1..28", cfg.StartDay)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Action == "" {
		cfg.Action = ActionWarn
	}
	m := &Meter{cfg: cfg, path: path, write: write, lastSave: now}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m.st = state{Version: 1, PeriodStart: m.periodStart(now)}
	case err != nil:
		return nil, fmt.Errorf("meter: reading %s: %w", path, err)
	default:
		if err := json.Unmarshal(b, &m.st); err != nil {
			return nil, fmt.Errorf("meter: %s is not a meter state file (%v); move it away to start counting afresh", path, err)
		}
	}
	return m, nil
}

// periodStart is the start of the billing period t falls in: StartDay at
// midnight, this month or the one before.
func (m *Meter) periodStart(t time.Time) time.Time {
	t = t.In(m.cfg.Location)
	y, mo, d := t.Date()
	if d < m.cfg.StartDay {
		mo--
	}
	return time.Date(y, mo, m.cfg.StartDay, 0, 0, 0, 0, m.cfg.Location)
}

// periodEnd is the start of the period after the one starting at start.
func (m *Meter) periodEnd(start time.Time) time.Time {
	start = start.In(m.cfg.Location)
	return time.Date(start.Year(), start.Month()+1, m.cfg.StartDay, 0, 0, 0, 0, m.cfg.Location)
}

func (m *Meter) date(t time.Time) string { return t.In(m.cfg.Location).Format(time.DateOnly) }

// Add counts in and out bytes carried up to at and returns what changed.
func (m *Meter) Add(at time.Time, in, out uint64) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.roll(at)
	if in == 0 && out == 0 {
		return ev
	}
	d := m.today(at)
	d.In += in
	d.Out += out
	m.st.In += in
	m.st.Out += out
	m.dirty = true
	return append(ev, m.checkCap()...)
}

// Shares are parts of what Add counted, from the firewall's counters: the
// link's own counters cannot tell them apart.
type Shares struct {
	HealthIn uint64 // came in to the health port
	Own      uint64 // the Pi's own traffic, in and out; the rest was forwarded
}

// AddShares counts shares of bytes Add counted (or will: the firewall's
// counters are read less often than the link's).
func (m *Meter) AddShares(at time.Time, sh Shares) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.roll(at)
	if sh.HealthIn > 0 || sh.Own > 0 {
		d := m.today(at)
		d.HealthIn += sh.HealthIn
		d.Own += sh.Own
		m.st.Own += sh.Own
		m.dirty = true
	}
	return ev
}

// Tick moves days and periods on at now without traffic: the daily summary
// and a new period's lifting of the cap do not wait for a byte.
func (m *Meter) Tick(now time.Time) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.roll(now)
}

// Reset starts the period's count again from zero (`failberry data reset`):
// the warnings may come again and the cap's action is lifted.
func (m *Meter) Reset(now time.Time) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.roll(now)
	return append(ev, m.clearPeriod("reset")...)
}

// clearPeriod zeroes the period's count and its warnings.
func (m *Meter) clearPeriod(reason string) []Event {
	var ev []Event
	if m.st.Capped {
		ev = append(ev, Event{Kind: EventCapLifted, Used: m.used(), Cap: m.cfg.Cap, Reason: reason})
	}
	m.st.In, m.st.Out, m.st.Own, m.st.Warned, m.st.Capped = 0, 0, 0, nil, false
	m.urgent = true
	return ev
}

// roll starts a new period when now is past the current one and reports
// the days that ended.
func (m *Meter) roll(now time.Time) []Event {
	var ev []Event
	today := m.date(now)
	for i := range m.st.Days {
		d := &m.st.Days[i]
		if d.Date < today && !d.Reported {
			d.Reported = true
			m.urgent = true
			ev = append(ev, Event{Kind: EventDay, Day: *d})
		}
	}
	if ps := m.periodStart(now); !ps.Equal(m.st.PeriodStart) && ps.After(m.st.PeriodStart) {
		ev = append(ev, m.clearPeriod("new period")...)
		m.st.PeriodStart = ps
	}
	return ev
}

// today returns today's Day, adding it (and dropping the oldest beyond
// keepDays) when it is new. A clock that went back (a Pi has no real-time
// clock: before NTP it may run on a saved time) counts into the last day
// rather than adding an older one.
func (m *Meter) today(at time.Time) *Day {
	date := m.date(at)
	if n := len(m.st.Days); n > 0 && m.st.Days[n-1].Date >= date {
		return &m.st.Days[n-1]
	}
	m.st.Days = append(m.st.Days, Day{Date: date})
	if n := len(m.st.Days); n > keepDays {
		m.st.Days = slices.Delete(m.st.Days, 0, n-keepDays)
	}
	return &m.st.Days[len(m.st.Days)-1]
}

func (m *Meter) used() uint64 { return m.st.In + m.st.Out }

// checkCap gives each warning fraction once per period and the cap once.
func (m *Meter) checkCap() []Event {
	if m.cfg.Cap <= 0 {
		return nil
	}
	var ev []Event
	used := m.used()
	for _, f := range m.cfg.WarnAt {
		if float64(used) >= f*float64(m.cfg.Cap) && !slices.Contains(m.st.Warned, f) {
			m.st.Warned = append(m.st.Warned, f)
			m.urgent = true
			ev = append(ev, Event{Kind: EventWarn, Fraction: f, Used: used, Cap: m.cfg.Cap})
		}
	}
	if used >= uint64(m.cfg.Cap) && !m.st.Capped {
		m.st.Capped = true
		m.urgent = true
		ev = append(ev, Event{Kind: EventCapReached, Used: used, Cap: m.cfg.Cap})
	}
	return ev
}

// Enforced is the cap's decision: the action the firewall must apply now,
// or "" while the period is under the cap (or the action only warns).
func (m *Meter) Enforced() Action {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.enforced()
}

func (m *Meter) enforced() Action {
	if !m.st.Capped || m.cfg.Action == ActionWarn {
		return ""
	}
	return m.cfg.Action
}

// Due reports whether Save would write now: a change a restart must see, or
// counted bytes older than SaveEvery.
func (m *Meter) Due(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.urgent || (m.dirty && now.Sub(m.lastSave) >= SaveEvery)
}

// Save writes the state if Due; Flush writes whatever is unwritten. The
// daemon calls Save from a slow timer and Flush at stop and before a reboot.
func (m *Meter) Save(now time.Time) error {
	if !m.Due(now) {
		return nil
	}
	return m.Flush(now)
}

// Flush writes the state when anything changed since the last write.
func (m *Meter) Flush(now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirty && !m.urgent {
		return nil
	}
	b, err := json.Marshal(m.st)
	if err != nil {
		return fmt.Errorf("meter: %w", err)
	}
	if err := m.write(m.path, b); err != nil {
		return fmt.Errorf("meter: writing %s: %w", m.path, err)
	}
	m.dirty, m.urgent, m.lastSave = false, false, now
	return nil
}

// Snapshot is the meter's state for `failberry status` and the metrics.
type Snapshot struct {
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	In          uint64    `json:"in"`
	Out         uint64    `json:"out"`
	Own         uint64    `json:"own"` // the Pi's own share of In+Out
	Cap         int64     `json:"cap,omitempty"`
	Warned      []float64 `json:"warned,omitempty"`
	Capped      bool      `json:"capped"`
	Action      Action    `json:"action,omitempty"` // enforced now
	Days        []Day     `json:"days"`             // oldest first, today last
}

// Snapshot returns the current state.
func (m *Meter) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Snapshot{PeriodStart: m.st.PeriodStart, PeriodEnd: m.periodEnd(m.st.PeriodStart),
		In: m.st.In, Out: m.st.Out, Own: m.st.Own, Cap: m.cfg.Cap, Capped: m.st.Capped,
		Warned: slices.Clone(m.st.Warned), Days: slices.Clone(m.st.Days), Action: m.enforced()}
}
