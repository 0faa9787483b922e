package linkstats

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestSince(t *testing.T) {
	prev := Counters{Index: 5, RxBytes: 1000, TxBytes: 500, RxPackets: 10, TxPackets: 5}
	for _, tc := range []struct {
		name string
		c    Counters
		want Counters
	}{
		{"growth", Counters{5, 1500, 700, 14, 7}, Counters{5, 500, 200, 4, 2}},
		{"no traffic", prev, Counters{Index: 5}},
		{"new link", Counters{9, 40, 80, 1, 2}, Counters{9, 40, 80, 1, 2}},
		{"counter went back", Counters{5, 900, 800, 9, 8}, Counters{5, 900, 800, 9, 8}},
	} {
		if got := tc.c.Since(prev); got != tc.want {
			t.Errorf("%s: Since = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

type fakeReader struct {
	mu   sync.Mutex
	seq  []Counters
	errs []error
}

func (f *fakeReader) Read(name string) (Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return Counters{}, err
		}
	}
	if len(f.seq) == 0 {
		return Counters{}, ErrNoLink
	}
	c := f.seq[0]
	f.seq = f.seq[1:]
	return c, nil
}

func TestRunFansOutAndSkipsMissingLinks(t *testing.T) {
	boom := errors.New("netlink: boom")
	r := &fakeReader{seq: []Counters{{Index: 1, RxBytes: 1}, {Index: 1, RxBytes: 2}}, errs: []error{ErrNoLink, boom, nil, nil}}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var a, b []uint64
	var errs []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, r, func() string { return "ppp0" }, time.Millisecond,
			func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
			func(s Sample) {
				mu.Lock()
				defer mu.Unlock()
				if s.Name != "ppp0" || s.At.IsZero() {
					t.Errorf("sample %+v", s)
				}
				a = append(a, s.RxBytes)
				if len(a) == 2 {
					cancel()
				}
			},
			func(s Sample) { mu.Lock(); b = append(b, s.RxBytes); mu.Unlock() })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with its context")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(a) != 2 || a[0] != 1 || a[1] != 2 || len(b) != 2 {
		t.Errorf("sinks saw %v and %v, want [1 2] each", a, b)
	}
	if len(errs) != 1 || !errors.Is(errs[0], boom) {
		t.Errorf("errors reported: %v, want only the netlink failure (a missing link is no error)", errs)
	}
}
