package firewall

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustBuild(t *testing.T, p Policy) Ruleset {
	t.Helper()
	rs, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// foreign are rules of other programs that Apply and Cleanup must keep.
func addForeign(f *fakeTables) {
	f.add("filter", "INPUT", "-i eth0 -p tcp -m tcp --dport 22 -j ACCEPT")
	f.add("nat", "POSTROUTING", "-o wg0 -j MASQUERADE")
}

// want returns the state Apply must reach: foreign rules plus r on an
// otherwise empty kernel, computed by hand (not by Apply).
func wantState(r Rules) *fakeTables {
	f := newFake()
	for _, c := range r.Chains {
		f.add(c.Table, c.Name, c.Rules...)
	}
	for _, j := range r.Jumps {
		f.chains[j.Table][j.From] = append([]string{j.Spec()}, f.chains[j.Table][j.From]...)
	}
	addForeign(f)
	return f
}

func TestApplyConverges(t *testing.T) {
	for name, p := range map[string]Policy{"outbound": fullPolicy(), "inbound": inboundPolicy()} {
		t.Run(name, func(t *testing.T) { testApplyConverges(t, mustBuild(t, p)) })
	}
}

func testApplyConverges(t *testing.T, rs Ruleset) {
	starts := map[string]func(f *fakeTables){
		"empty": func(f *fakeTables) {},
		"partial": func(f *fakeTables) {
			f.add("filter", chainInput, rulesOf(rs.V4, chainInput)[0], rulesOf(rs.V4, chainInput)[3])
			f.add("filter", "INPUT", "-j "+chainInput)
		},
		"duplicated jumps": func(f *fakeTables) {
			for _, c := range rs.V4.Chains {
				f.add(c.Table, c.Name, c.Rules...)
			}
			f.add("filter", "INPUT", "-j "+chainInput, "-j "+chainInput)
			f.add("filter", "FORWARD", "-j "+chainForward, "-j "+chainForward)
		},
		"extra and reordered rules": func(f *fakeTables) {
			in := slices.Clone(rulesOf(rs.V4, chainInput))
			slices.Reverse(in)
			f.add("filter", chainInput, append(in, "-j ACCEPT")...)
			f.add("filter", chainForward, "-j ACCEPT")
			f.add("filter", chainForward, rulesOf(rs.V4, chainForward)...)
			f.add("filter", chainForward, rulesOf(rs.V4, chainForward)...)
		},
		"inbound chains damaged": func(f *fakeTables) {
			f.add("nat", chainDNAT, "-i ppp+ -j ACCEPT")
			f.add("nat", "PREROUTING", "-i ppp+ -j "+chainDNAT, "-j "+chainDNAT)
			f.add("mangle", chainMarkOut)
			f.add("mangle", "OUTPUT", "-o lo -j "+chainMarkOut, "-j "+chainMarkOut)
		},
		"stale chain and conditional jump": func(f *fakeTables) {
			f.add("mangle", ChainPrefix+"OLD", "-j ACCEPT")
			f.add("mangle", "PREROUTING", "-i ppp0 -j "+ChainPrefix+"OLD")
			f.add("nat", chainPostrouting, "-o ppp+ -j MASQUERADE")
			f.add("nat", "POSTROUTING", "-o ppp+ -j "+chainPostrouting)
		},
	}
	for mode, wrap := range modes {
		for name, setup := range starts {
			t.Run(mode+"/"+name, func(t *testing.T) {
				v4, v6 := newFake(), newFake()
				setup(v4)
				addForeign(v4)
				addForeign(v6)
				fw := New(wrap(v4), wrap(v6), nil)
				if err := fw.Apply(context.Background(), rs); err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if diff := cmp.Diff(wantState(rs.V4).dump(), v4.dump()); diff != "" {
					t.Errorf("ipv4 state (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantState(rs.V6).dump(), v6.dump()); diff != "" {
					t.Errorf("ipv6 state (-want +got):\n%s", diff)
				}
				before := v4.muts + v6.muts
				if err := fw.Apply(context.Background(), rs); err != nil {
					t.Fatalf("second Apply: %v", err)
				}
				if n := v4.muts + v6.muts - before; n != 0 {
					t.Errorf("second Apply made %d changes, want 0", n)
				}
				if v4.restores+v6.restores > 2 {
					t.Errorf("%d restores, want at most one per family and none when nothing differs", v4.restores+v6.restores)
				}
			})
		}
	}
}

// TestApplyNeverOpensWAN checks every intermediate state of a repair: the
// jump into the input chain and its final DROP must always be there.
func TestApplyNeverOpensWAN(t *testing.T) {
	for mode, wrap := range modes {
		t.Run(mode, func(t *testing.T) { testNeverOpensWAN(t, wrap) })
	}
}

func testNeverOpensWAN(t *testing.T, wrap func(*fakeTables) Tables) {
	rs := mustBuild(t, Policy{LAN: []string{"eth0"}, HealthPort: 9000, InboundICMP: true})
	v4 := newFake()
	in := rulesOf(rs.V4, chainInput)
	// A damaged but closed chain: a duplicate, a missing rule, junk at the end.
	v4.add("filter", chainInput, in[0], in[0], in[1], in[3], in[4], "-i ppp+ -j ACCEPT")
	v4.add("filter", "INPUT", "-j "+chainInput, "-j "+chainInput)
	steps := 0
	v4.after = func(f *fakeTables) {
		steps++
		rules := f.chains["filter"][chainInput]
		drop := slices.Index(rules, "-i ppp+ -j DROP")
		open := slices.Index(rules, "-i ppp+ -j ACCEPT")
		if drop < 0 || (open >= 0 && open < drop) {
			t.Errorf("step %d: WAN open: %q", steps, rules)
		}
		if !slices.Contains(f.chains["filter"]["INPUT"], "-j "+chainInput) {
			t.Errorf("step %d: no jump into %s", steps, chainInput)
		}
	}
	if err := New(wrap(v4), nil, nil).Apply(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	if steps == 0 {
		t.Fatal("no repair happened")
	}
	if got := v4.chains["filter"][chainInput]; !slices.Equal(got, in) {
		t.Errorf("input chain = %q, want %q", got, in)
	}
}

func TestApplyErrors(t *testing.T) {
	rs := mustBuild(t, fullPolicy())
	for mode, wrap := range modes {
		if err := New(wrap(newFake()), nil, nil).Apply(context.Background(), rs); !errors.Is(err, ErrNoIPv6) {
			t.Errorf("%s: Apply of IPv6 rules without ip6tables = %v, want ErrNoIPv6", mode, err)
		}
		bad := newFake()
		delete(bad.chains, "mangle")
		if err := New(wrap(bad), nil, nil).Apply(context.Background(), mustBuild(t, Policy{HealthPort: 1, ClampMSS: true})); err == nil {
			t.Errorf("%s: Apply on a kernel without the mangle table succeeded", mode)
		}
	}
}

func TestApplyRemovesIPv6WhenTurnedOff(t *testing.T) {
	for mode, wrap := range modes {
		t.Run(mode, func(t *testing.T) { testApplyRemovesIPv6WhenTurnedOff(t, wrap) })
	}
}

func testApplyRemovesIPv6WhenTurnedOff(t *testing.T, wrap func(*fakeTables) Tables) {
	v4, v6 := newFake(), newFake()
	fw := New(wrap(v4), wrap(v6), nil)
	if err := fw.Apply(context.Background(), mustBuild(t, fullPolicy())); err != nil {
		t.Fatal(err)
	}
	p := fullPolicy()
	p.IPv6, p.ClampMSS = false, false
	if err := fw.Apply(context.Background(), mustBuild(t, p)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(newFake().dump(), v6.dump()); diff != "" {
		t.Errorf("ipv6 left over (-want +got):\n%s", diff)
	}
	if strings.Contains(v4.dump(), "TCPMSS") {
		t.Errorf("mangle chain left after ClampMSS off:\n%s", v4.dump())
	}
}

func TestCleanup(t *testing.T) {
	for mode, wrap := range modes {
		t.Run(mode, func(t *testing.T) { testCleanup(t, wrap) })
	}
}

func testCleanup(t *testing.T, wrap func(*fakeTables) Tables) {
	v4, v6 := newFake(), newFake()
	addForeign(v4)
	pristine := v4.dump()
	fw := New(wrap(v4), wrap(v6), nil)
	if err := fw.Apply(context.Background(), mustBuild(t, inboundPolicy())); err != nil {
		t.Fatal(err)
	}
	v4.add("filter", "OUTPUT", "-j "+chainInput) // a jump we never make
	for range 2 {                                // the second is a no-op
		if err := New(wrap(v4), wrap(v6), nil).Cleanup(context.Background()); err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
	}
	if diff := cmp.Diff(pristine, v4.dump()); diff != "" {
		t.Errorf("ipv4 after cleanup (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(newFake().dump(), v6.dump()); diff != "" {
		t.Errorf("ipv6 after cleanup (-want +got):\n%s", diff)
	}
}

func TestKeepRepairsAndStaysQuiet(t *testing.T) {
	rs := mustBuild(t, Policy{LAN: []string{"eth0"}, HealthPort: 9000})
	v4 := newFake()
	var logs syncBuffer
	fw := New(v4, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := fw.Apply(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- fw.Keep(ctx, rs, time.Millisecond) }()

	waitFor(t, func() bool { return pollsSeen(v4) >= 3 })
	if strings.Contains(logs.String(), "repaired") {
		t.Errorf("Keep logged with nothing to repair:\n%s", logs.String())
	}
	v4.mu.Lock()
	v4.chains["filter"][chainInput] = v4.chains["filter"][chainInput][1:] // "iptables -D"
	v4.mu.Unlock()
	waitFor(t, func() bool { return strings.Contains(logs.String(), "repaired") })
	polls := pollsSeen(v4)
	waitFor(t, func() bool { return pollsSeen(v4) >= polls+3 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Keep = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff(wantStateNoForeign(rs.V4), v4.dump()); diff != "" {
		t.Errorf("state after Keep (-want +got):\n%s", diff)
	}
	if n := strings.Count(logs.String(), "repaired"); n != 1 {
		t.Errorf("%d repair events, want 1:\n%s", n, logs.String())
	}
}

func wantStateNoForeign(r Rules) string {
	f := wantState(r)
	f.chains["filter"]["INPUT"] = slices.DeleteFunc(f.chains["filter"]["INPUT"], func(s string) bool { return strings.Contains(s, "eth0") })
	f.chains["nat"]["POSTROUTING"] = slices.DeleteFunc(f.chains["nat"]["POSTROUTING"], func(s string) bool { return strings.Contains(s, "wg0") })
	return f.dump()
}

// pollsSeen counts Keep passes through the fake: each lists filter chains once.
func pollsSeen(f *fakeTables) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listChainCalls
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 20s")
		}
		time.Sleep(time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rulesOf returns the rules of the filter chain named.
func rulesOf(r Rules, name string) []string {
	for _, c := range r.Chains {
		if c.Table == "filter" && c.Name == name {
			return c.Rules
		}
	}
	return nil
}

// stallTables holds the first ListChains until release, then fails it as
// the iptables-save that a cancelled context killed.
type stallTables struct {
	Tables
	entered, release chan struct{}
	once             sync.Once
}

func (s *stallTables) ListChains(table string) ([]string, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return nil, errors.New("/usr/sbin/iptables-save: signal: killed")
}

// A check that the daemon's stop cuts short is no failure of the rules:
// Keep returns without an ERROR line (one on every stop, in the journal).
func TestKeepQuietWhenStoppedMidCheck(t *testing.T) {
	rs := mustBuild(t, Policy{LAN: []string{"eth0"}, HealthPort: 9000})
	st := &stallTables{Tables: newFake(), entered: make(chan struct{}), release: make(chan struct{})}
	var logs syncBuffer
	fw := New(st, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- fw.Keep(ctx, rs, time.Hour) }()
	<-st.entered
	cancel()
	close(st.release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Keep = %v, want context.Canceled", err)
	}
	if strings.Contains(logs.String(), "failed") {
		t.Errorf("Keep logged the stop as a failure:\n%s", logs.String())
	}
}
