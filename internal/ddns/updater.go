package ddns

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/failberry/failberry/internal/atomicfile"
)

// Options tune an Updater. The zero value is the daemon's choice except for
// StateFile, which it sets (such as /var/lib/failberry/ddns.json).
type Options struct {
	// StateFile remembers what each record was last set to, so a restart
	// does not send an address the service already has. Empty: memory only.
	StateFile string
	// Logger gets one event per published address, failure or refusal.
	// Nil: discard.
	Logger *slog.Logger
	// Refresh is how old a published address may grow before it is sent
	// again although unchanged: a record edited by hand, or lost on the
	// service's side, is put back within a day, and No-IP expires hosts it
	// does not hear from. Default 24h.
	Refresh time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries of a failed
	// update, doubling from the first to the second. Defaults 30s and 1h,
	// so an outage of the service costs at most about 24 requests a day.
	MinBackoff, MaxBackoff time.Duration
	// HTTPClient carries the HTTP providers' requests. Nil: a plain client.
	HTTPClient *http.Client
	// OnResult, when set, is told each outcome worth an event: an address
	// published, one refused for good, and the first failure of a run of
	// them (not every retry, so an outage of the service does not fill the
	// journal). It runs on Run's goroutine and must not block.
	OnResult func(Result)
}

// Result is the outcome of one update, for OnResult.
type Result struct {
	Type    string // A or AAAA
	Address netip.Addr
	Err     error // nil: published
	Refused bool  // Err is a refusal: not retried until the address changes
}

// Updater keeps one name's A and AAAA records at the addresses given to Set.
// Its methods are safe for concurrent use; Run does the updates.
type Updater struct {
	prov   Provider
	cfg    Config
	target string
	opts   Options
	log    *slog.Logger
	wake   chan struct{}

	mu   sync.Mutex
	recs [2]record // A, AAAA
}

// record is what the Updater knows of one record type.
type record struct {
	typ         string
	want        netip.Addr // to publish; invalid: nothing to publish
	skipped     netip.Addr // given to Set but not publishable
	published   netip.Addr // what the service last accepted
	publishedAt time.Time
	refused     netip.Addr // refused for good: not sent again
	result      string
	resultAt    time.Time
	failures    int       // transient failures in a row, for the backoff
	next        time.Time // no attempt before this
}

// New returns an Updater for cfg (which must pass Check and have a
// provider) and loads its state file.
func New(cfg Config, opts Options) (*Updater, error) {
	prov, err := NewProvider(cfg, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 24 * time.Hour
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 30 * time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(time.Hour, opts.MinBackoff)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	u := &Updater{
		prov:   prov,
		cfg:    cfg,
		target: cfg.target(),
		opts:   opts,
		log:    log,
		wake:   make(chan struct{}, 1),
	}
	u.recs[0].typ, u.recs[1].typ = "A", "AAAA"
	for i := range u.recs {
		u.recs[i].result = "no address yet"
	}
	u.loadState()
	return u, nil
}

// Set gives the cellular link's addresses; an invalid Addr means the link
// has none of that family. An IPv4 address is published only when it is
// public (not private, not carrier NAT's 100.64.0.0/10, whose records no one
// could reach), an IPv6 one only when global. A family that loses its
// address keeps its record as last published: failover DNS needs a record,
// and the health check, not this package, says whether it works. Set never
// blocks; Run acts on the latest addresses.
func (u *Updater) Set(v4, v6 netip.Addr) {
	u.mu.Lock()
	changed := u.recs[0].set(v4.Unmap(), PublicV4(v4.Unmap()))
	changed = u.recs[1].set(v6, globalV6(v6)) || changed
	u.mu.Unlock()
	if changed {
		select {
		case u.wake <- struct{}{}:
		default:
		}
	}
}

var carrierNAT = netip.MustParsePrefix("100.64.0.0/10")

// PublicV4 reports whether a is an IPv4 address the internet can reach: not
// private (RFC 1918) and not carrier-grade NAT's shared range (RFC 6598,
// 100.64.0.0/10). The daemon's carrier-NAT warning uses the same rule.
func PublicV4(a netip.Addr) bool {
	return a.Is4() && a.IsGlobalUnicast() && !a.IsPrivate() && !carrierNAT.Contains(a)
}

func globalV6(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && a.IsGlobalUnicast() && !a.IsPrivate()
}

// set records a new address and reports whether anything changed. A new
// address starts afresh: no backoff, and a refusal of the old address does
// not hold it back.
func (r *record) set(a netip.Addr, publishable bool) bool {
	want, skipped := netip.Addr{}, netip.Addr{}
	if publishable {
		want = a
	} else if a.IsValid() {
		skipped = a
	}
	if want == r.want && skipped == r.skipped {
		return false
	}
	r.want, r.skipped = want, skipped
	r.failures, r.next, r.refused = 0, time.Time{}, netip.Addr{}
	switch {
	case want.IsValid() && want == r.published:
		r.result = "published"
	case want.IsValid():
		r.result = "pending"
	case skipped.IsValid():
		r.result = "not published: not a public address"
	default:
		r.result = "no address"
	}
	r.resultAt = time.Now()
	return true
}

// due reports whether r should be sent now, and if not, when it next
// should be (zero: not until Set changes something).
func (r *record) due(now time.Time, refresh time.Duration) (bool, time.Time) {
	if !r.want.IsValid() || r.want == r.refused {
		return false, time.Time{}
	}
	at := r.next
	if r.want == r.published {
		at = later(at, r.publishedAt.Add(refresh))
	}
	return !now.Before(at), at
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Run sends updates until ctx is done, then returns nil: at start for the
// addresses already Set (unless the state file says they are published), on
// every change, again after Refresh, and after a failure with backoff.
func (u *Updater) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-u.wake:
		case <-t.C:
		}
		wait := u.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		t.Reset(wait)
	}
}

// pass sends every due record and returns how long until the next is due.
func (u *Updater) pass(ctx context.Context) time.Duration {
	for i := range u.recs {
		u.mu.Lock()
		due, _ := u.recs[i].due(time.Now(), u.opts.Refresh)
		addr, typ := u.recs[i].want, u.recs[i].typ
		u.mu.Unlock()
		if !due {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, time.Duration(u.cfg.Timeout))
		err := u.prov.Update(actx, u.cfg.Name, addr)
		cancel()
		if ctx.Err() != nil {
			return 0
		}
		u.done(i, typ, addr, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	now := time.Now()
	wait := u.opts.Refresh
	for i := range u.recs {
		if _, at := u.recs[i].due(now, u.opts.Refresh); !at.IsZero() {
			wait = min(wait, max(at.Sub(now), 0))
		}
	}
	return wait
}

// done records the outcome of sending addr as record i.
func (u *Updater) done(i int, typ string, addr netip.Addr, err error) {
	u.mu.Lock()
	r := &u.recs[i]
	now := time.Now()
	current := r.want == addr // Set may have moved on during the attempt
	log := u.log.With("provider", u.cfg.Provider, "name", u.cfg.Name, "type", typ, "address", addr)
	var perm *PermanentError
	var trans *TransientError
	switch {
	case err == nil:
		r.published, r.publishedAt = addr, now
		if current {
			r.failures, r.next = 0, time.Time{}
			r.result, r.resultAt = "published", now
		}
		u.mu.Unlock()
		log.Info("dns record published")
		u.saveState()
		u.report(Result{Type: typ, Address: addr})
		return
	case !current:
		// The address changed while this one was being sent; its failure
		// says nothing about the new one.
	case errors.As(err, &perm):
		r.refused = addr
		r.result, r.resultAt = err.Error(), now
		log.Error("dns update refused; not retrying until the address or the config changes", "err", err)
		defer u.report(Result{Type: typ, Address: addr, Err: err, Refused: true})
	default:
		r.failures++
		wait := min(u.opts.MinBackoff<<min(r.failures-1, 30), u.opts.MaxBackoff)
		if errors.As(err, &trans) {
			wait = max(wait, trans.RetryAfter)
		}
		r.next = now.Add(wait)
		r.result, r.resultAt = err.Error(), now
		log.Warn("dns update failed; will retry", "err", err, "attempt", r.failures, "retry_in", wait.Round(time.Second))
		if r.failures == 1 {
			defer u.report(Result{Type: typ, Address: addr, Err: err})
		}
	}
	u.mu.Unlock()
}

func (u *Updater) report(r Result) {
	if u.opts.OnResult != nil {
		u.opts.OnResult(r)
	}
}

// Status is the DNS part of the status page.
type Status struct {
	Provider string         `json:"provider"`
	Name     string         `json:"name"`
	Records  []RecordStatus `json:"records"`
}

// RecordStatus is one record type's state.
type RecordStatus struct {
	Type        string     `json:"type"`                  // A or AAAA
	Address     netip.Addr `json:"address,omitzero"`      // the link's address, published or not
	Published   netip.Addr `json:"published,omitzero"`    // what the service last accepted
	PublishedAt time.Time  `json:"published_at,omitzero"` // when
	Result      string     `json:"result"`                // "published", "pending", or what went wrong
	ResultAt    time.Time  `json:"result_at,omitzero"`    // when Result was set
	Refused     bool       `json:"refused,omitempty"`     // refused for good: fix the config or credentials
	NextTry     time.Time  `json:"next_try,omitzero"`     // the next retry after a failure
}

// Status returns the Updater's state for the status page.
func (u *Updater) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := Status{Provider: u.cfg.Provider, Name: u.cfg.Name}
	for _, r := range u.recs {
		addr := r.want
		if !addr.IsValid() {
			addr = r.skipped
		}
		s.Records = append(s.Records, RecordStatus{
			Type:        r.typ,
			Address:     addr,
			Published:   r.published,
			PublishedAt: r.publishedAt,
			Result:      r.result,
			ResultAt:    r.resultAt,
			Refused:     r.want.IsValid() && r.want == r.refused,
			NextTry:     r.next,
		})
	}
	return s
}

// stateFile is the state file's content. Target ties the addresses to the
// provider, zone and name they were published under.
type stateFile struct {
	Target  string                `json:"target"`
	Records map[string]stateEntry `json:"records"`
}

type stateEntry struct {
	Address netip.Addr `json:"address"`
	At      time.Time  `json:"at"`
}

// loadState takes the published addresses from the state file. A missing,
// unreadable or foreign file only costs one update that may be a repeat.
func (u *Updater) loadState() {
	if u.opts.StateFile == "" {
		return
	}
	data, err := os.ReadFile(u.opts.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var st stateFile
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		u.log.Warn("dns state file ignored", "path", u.opts.StateFile, "err", err)
		return
	}
	if st.Target != u.target {
		return
	}
	for i := range u.recs {
		if e, ok := st.Records[u.recs[i].typ]; ok && e.Address.IsValid() {
			u.recs[i].published, u.recs[i].publishedAt = e.Address, e.At
		}
	}
}

// saveState writes the published addresses. A failure is logged and
// otherwise harmless: the memory copy still prevents repeats until a restart.
func (u *Updater) saveState() {
	if u.opts.StateFile == "" {
		return
	}
	u.mu.Lock()
	st := stateFile{Target: u.target, Records: map[string]stateEntry{}}
	for _, r := range u.recs {
		if r.published.IsValid() {
			st.Records[r.typ] = stateEntry{Address: r.published, At: r.publishedAt}
		}
	}
	u.mu.Unlock()
	data, err := json.Marshal(st)
	if err == nil {
		err = atomicfile.Write(u.opts.StateFile, data)
	}
	if err != nil {
		u.log.Warn("dns state file not written", "path", u.opts.StateFile, "err", err)
	}
}
