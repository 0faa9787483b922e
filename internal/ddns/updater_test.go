package ddns

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/ddns/ddnstest"
)

// run starts u.Run and stops it at the end of the test (or at stop()).
func run(t *testing.T, u *Updater) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := u.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

func newUpdater(t *testing.T, c Config, o Options) *Updater {
	t.Helper()
	u, err := New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// next waits for the server's next request.
func (s *dyndns2Server) next(t *testing.T, d time.Duration) ddnstest.Request {
	t.Helper()
	select {
	case r := <-s.Arrived():
		return r
	case <-time.After(d):
		t.Fatalf("no request within %v", d)
		return ddnstest.Request{}
	}
}

// none checks that no request arrives within d.
func (s *dyndns2Server) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case r := <-s.Arrived():
		t.Fatalf("unexpected request for %v", r.Addr)
	case <-time.After(d):
	}
}

func TestUpdaterPublishesAtStartAndOnChange(t *testing.T) {
	s := newDynDNS2Server(t)
	u := newUpdater(t, s.config(t), Options{StateFile: filepath.Join(t.TempDir(), "ddns.json")})
	u.Set(addr1, noAddr) // before Run: the start-up update
	run(t, u)
	if r := s.next(t, 5*time.Second); r.Addr != addr1 {
		t.Fatalf("first update %v, want %v", r.Addr, addr1)
	}

	// The measured figure: from the change of address to the request at
	// the service, over loopback.
	var worst time.Duration
	for _, a := range []netip.Addr{addr2, addr3, addr1} {
		start := time.Now()
		u.Set(a, noAddr)
		r := s.next(t, 5*time.Second)
		if r.Addr != a {
			t.Fatalf("update %v, want %v", r.Addr, a)
		}
		worst = max(worst, r.At.Sub(start))
	}
	if worst > 5*time.Second {
		t.Errorf("update latency %v, want under 5s", worst)
	}
	t.Logf("update after an address change reached the server within %v (worst of 3)", worst)

	u.Set(addr1, addr6)
	if r := s.next(t, 5*time.Second); r.Addr != addr6 || !r.V6 {
		t.Fatalf("update %+v, want AAAA %v", r, addr6)
	}
	eventually(t, 5*time.Second, "status shows both records published", func() bool {
		st := u.Status()
		return st.Records[0].Published == addr1 && st.Records[1].Published == addr6 &&
			st.Records[0].Result == "published" && st.Records[1].Result == "published"
	})
	if st := u.Status(); st.Provider != "dyndns2" || st.Name != s.Host() || st.Records[0].PublishedAt.IsZero() {
		t.Errorf("status %+v", st)
	}
}

func TestUpdaterNeverRepeatsAnUnchangedAddress(t *testing.T) {
	s := newDynDNS2Server(t)
	state := filepath.Join(t.TempDir(), "ddns.json")
	c := s.config(t)
	u := newUpdater(t, c, Options{StateFile: state})
	stop := run(t, u)
	u.Set(addr1, addr6)
	s.next(t, 5*time.Second)
	s.next(t, 5*time.Second)
	u.Set(addr1, addr6)
	u.Set(addr1, noAddr) // losing IPv6 keeps the AAAA record; nothing to send
	u.Set(addr1, addr6)
	s.none(t, 300*time.Millisecond)
	stop()

	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil || st.Records["A"].Address != addr1 || st.Records["AAAA"].Address != addr6 {
		t.Fatalf("state file %s: %v", data, err)
	}

	// A restart: the same addresses are not sent again, a new one is.
	u = newUpdater(t, c, Options{StateFile: state})
	u.Set(addr1, addr6)
	run(t, u)
	time.Sleep(200 * time.Millisecond) // Run's first pass is immediate
	u.Set(addr2, addr6)
	if r := s.next(t, 5*time.Second); r.Addr != addr2 {
		t.Fatalf("after restart the first request was for %v, want only the new %v", r.Addr, addr2)
	}
	s.none(t, 200*time.Millisecond)
	if n := len(s.requests()); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}

	// Another name is another record: the state of the first does not
	// hold it back.
	c2 := c
	c2.Name = "other.example.com"
	s.SetHost(c2.Name)
	u = newUpdater(t, c2, Options{StateFile: state})
	u.Set(addr2, noAddr)
	run(t, u)
	if r := s.next(t, 5*time.Second); r.Addr != addr2 {
		t.Fatalf("new name: %v, want %v", r.Addr, addr2)
	}
}

func TestUpdaterStopsOnRefusal(t *testing.T) {
	for _, answer := range []string{"badauth", "abuse", "nohost", "badagent"} {
		t.Run(answer, func(t *testing.T) {
			s := newDynDNS2Server(t)
			u := newUpdater(t, s.config(t), Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
			s.Script(scripted{Code: 200, Body: answer})
			run(t, u)
			u.Set(addr1, noAddr)
			s.next(t, 5*time.Second)
			eventually(t, 5*time.Second, "status shows the refusal", func() bool {
				r := u.Status().Records[0]
				return r.Refused && strings.Contains(r.Result, answer)
			})
			u.Set(addr1, noAddr)
			s.none(t, 300*time.Millisecond) // backoff is 1 ms: a retry would be here

			// A new address is tried again; the service now accepts it.
			u.Set(addr2, noAddr)
			if r := s.next(t, 5*time.Second); r.Addr != addr2 {
				t.Fatalf("got %v, want %v", r.Addr, addr2)
			}
			eventually(t, 5*time.Second, "published", func() bool { return u.Status().Records[0].Published == addr2 })
			if r := u.Status().Records[0]; r.Refused {
				t.Errorf("status still refused: %+v", r)
			}
		})
	}
}

func TestUpdaterRetriesWithBackoff(t *testing.T) {
	s := newDynDNS2Server(t)
	const base = 40 * time.Millisecond
	u := newUpdater(t, s.config(t), Options{MinBackoff: base, MaxBackoff: 4 * base})
	s.Script(scripted{Code: 503, Body: "busy"}, scripted{Code: 500, Body: "oops"}, scripted{Code: 502, Body: "bad gateway"}, scripted{Code: 503, Body: "busy"})
	run(t, u)
	u.Set(addr1, noAddr)
	var at []time.Time
	for range 5 {
		at = append(at, s.next(t, 5*time.Second).At)
	}
	// Waits of base, 2*base, 4*base, then capped at 4*base.
	for i, want := range []time.Duration{base, 2 * base, 4 * base, 4 * base} {
		if gap := at[i+1].Sub(at[i]); gap < want || gap > want+time.Second {
			t.Errorf("wait before retry %d: %v, want %v", i+1, gap, want)
		}
	}
	eventually(t, 5*time.Second, "published after the retries", func() bool { return u.Status().Records[0].Published == addr1 })
	s.none(t, 300*time.Millisecond)
}

func TestUpdaterHonoursOutageWait(t *testing.T) {
	s := newDynDNS2Server(t)
	u := newUpdater(t, s.config(t), Options{MinBackoff: time.Millisecond})
	s.Script(scripted{Code: 200, Body: "911"})
	run(t, u)
	u.Set(addr1, noAddr)
	s.next(t, 5*time.Second)
	eventually(t, 5*time.Second, "a retry scheduled", func() bool { return !u.Status().Records[0].NextTry.IsZero() })
	if next := time.Until(u.Status().Records[0].NextTry); next < 29*time.Minute {
		t.Errorf("after 911 the next try is in %v, want no sooner than 30 minutes", next)
	}
	s.none(t, 200*time.Millisecond)
}

func TestUpdaterRefreshesOnceAPeriod(t *testing.T) {
	s := newDynDNS2Server(t)
	const refresh = 300 * time.Millisecond
	u := newUpdater(t, s.config(t), Options{Refresh: refresh})
	run(t, u)
	u.Set(addr1, noAddr)
	first := s.next(t, 5*time.Second)
	second := s.next(t, 5*time.Second)
	if second.Addr != addr1 || second.At.Sub(first.At) < refresh {
		t.Errorf("refresh %v after %v, want %v after at least %v", second.Addr, second.At.Sub(first.At), addr1, refresh)
	}
}

func TestUpdaterPublishesOnlyPublicAddresses(t *testing.T) {
	s := newDynDNS2Server(t)
	u := newUpdater(t, s.config(t), Options{})
	run(t, u)
	u.Set(mustAddr("100.64.12.34"), mustAddr("fe80::1")) // carrier NAT, link-local
	u.Set(mustAddr("10.0.0.2"), mustAddr("fd00::2"))     // private, unique local
	u.Set(mustAddr("::ffff:100.70.0.1"), addr6)
	if r := s.next(t, 5*time.Second); r.Addr != addr6 {
		t.Fatalf("got %v, want only the global %v", r.Addr, addr6)
	}
	s.none(t, 200*time.Millisecond)
	if r := u.Status().Records[0]; r.Address != mustAddr("100.70.0.1") || !strings.Contains(r.Result, "not a public address") {
		t.Errorf("A status %+v, want the carrier-NAT address shown as not published", r)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// OnResult hears of the first failure of a run, the publication after it,
// and a refusal, but not of every retry: what the journal gets.
func TestUpdaterReportsResults(t *testing.T) {
	s := newDynDNS2Server(t)
	var mu sync.Mutex
	var got []string
	u := newUpdater(t, s.config(t), Options{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		OnResult: func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fmt.Sprintf("%s %v err=%v refused=%v", r.Type, r.Address, r.Err != nil, r.Refused))
		}})
	s.Script(scripted{Code: 503, Body: "busy"}, scripted{Code: 503, Body: "busy"}, scripted{Code: 200, Body: "good"}, scripted{Code: 200, Body: "badauth"})
	run(t, u)
	u.Set(addr1, noAddr)
	for range 3 {
		s.next(t, 5*time.Second)
	}
	u.Set(addr2, noAddr)
	s.next(t, 5*time.Second)
	want := []string{
		"A " + addr1.String() + " err=true refused=false",
		"A " + addr1.String() + " err=false refused=false",
		"A " + addr2.String() + " err=true refused=true",
	}
	eventually(t, 5*time.Second, "three results", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 3 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
}
