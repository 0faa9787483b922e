package usbpower

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeCtl is a map-backed Controller: hubs from a captured tree, every port
// powered, and a log of the switch requests.
type fakeCtl struct {
	mu       sync.Mutex
	hubs     []Hub
	calls    []string
	comeBack int              // times power returns by itself after an off
	fail     map[string]error // "off 1-1:2" -> error
}

func newFakeCtl(t *testing.T, tree string) *fakeCtl {
	hubs, err := ReadTopology(sysTree(tree))
	if err != nil {
		t.Fatal(err)
	}
	for i := range hubs {
		for j := range hubs[i].Status {
			hubs[i].Status[j].Power = true
		}
	}
	return &fakeCtl{hubs: hubs}
}

func (f *fakeCtl) Hubs(ctx context.Context) ([]Hub, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Hub, len(f.hubs))
	for i, h := range f.hubs {
		for j, s := range h.Status {
			if !s.Power && f.comeBack > 0 { // the 3B+ hub re-powers the port
				f.comeBack--
				f.hubs[i].Status[j].Power = true
			}
		}
		out[i] = f.hubs[i]
		out[i].Status = slices.Clone(f.hubs[i].Status)
	}
	return out, nil
}

func (f *fakeCtl) SetPortPower(ctx context.Context, hub string, port int, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	word := map[bool]string{true: "on", false: "off"}[on]
	call := fmt.Sprintf("%s %s:%d", word, hub, port)
	f.calls = append(f.calls, call)
	if err := f.fail[call]; err != nil {
		return err
	}
	for i := range f.hubs {
		for j := range f.hubs[i].Status {
			if f.hubs[i].Name == hub && f.hubs[i].Status[j].Port == port {
				f.hubs[i].Status[j].Power = on
			}
		}
	}
	return nil
}

// fakeClock advances only when the cycler sleeps.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func newCycler(ctl Controller, b Board, repeat bool) (*Cycler, *fakeClock) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &Cycler{Ctl: ctl, Board: b, Repeat: repeat, Sleep: clk.Sleep, Now: clk.Now}, clk
}

func TestCycle(t *testing.T) {
	tests := []struct {
		name      string
		tree      string
		loc       Location
		repeat    bool
		comeBack  int
		wantCalls []string
		wantOff   time.Duration
		wantErr   error
	}{
		{name: "bench", tree: "bench", loc: Location{Hub: "1-1", Port: 2},
			wantCalls: []string{"off 1-1:2", "on 1-1:2"}, wantOff: 3 * time.Second}, // verification counts towards OffTime
		{name: "power comes back, off re-sent", tree: "pi3bplus", loc: Location{Hub: "1-1", Port: 3}, repeat: true, comeBack: 1,
			wantCalls: []string{"off 1-1:3", "off 1-1:3", "on 1-1:3"}, wantOff: 3 * time.Second},
		{name: "power comes back, no repeat", tree: "pi3bplus", loc: Location{Hub: "1-1", Port: 3}, comeBack: 1,
			wantCalls: []string{"off 1-1:3", "on 1-1:3"}, wantOff: offSettle, wantErr: ErrPowerStuck},
		{name: "power keeps coming back", tree: "pi3bplus", loc: Location{Hub: "1-1", Port: 3}, repeat: true, comeBack: 99,
			wantCalls: []string{"off 1-1:3", "off 1-1:3", "off 1-1:3", "off 1-1:3", "on 1-1:3"}, wantOff: 4 * offSettle, wantErr: ErrPowerStuck},
		{name: "pi4 partner", tree: "pi4", loc: Location{Hub: "1-1", Port: 4},
			wantCalls: []string{"off 1-1:4", "off 2:4", "on 1-1:4", "on 2:4"}, wantOff: 3 * time.Second},
		{name: "pi3b ethernet refused", tree: "pi3b", loc: Location{Hub: "1-1", Port: 1}, wantErr: ErrUnsafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl := newFakeCtl(t, tt.tree)
			ctl.comeBack = tt.comeBack
			c, _ := newCycler(ctl, DetectBoard(sysTree(tt.tree)), tt.repeat)
			tm, err := c.Cycle(context.Background(), tt.loc)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Cycle error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantCalls, ctl.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if tm.Off != tt.wantOff || tm.On != 0 {
				t.Errorf("Timing = %+v, want Off %v", tm, tt.wantOff)
			}
			for _, h := range ctl.hubs {
				for _, s := range h.Status {
					if !s.Power {
						t.Errorf("%s port %d left without power", h.Name, s.Port)
					}
				}
			}
		})
	}
}

func TestCycleOffTimeAndBoardFromSysRoot(t *testing.T) {
	ctl := newFakeCtl(t, "pi3b")
	c, clk := newCycler(ctl, Board{}, false)
	c.SysRoot, c.OffTime = sysTree("pi3b"), 10*time.Second
	if _, err := c.Cycle(context.Background(), Location{Hub: "1-1", Port: 1}); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Board from SysRoot: Cycle(Ethernet) = %v, want ErrUnsafe", err)
	}
	tm, err := c.Cycle(context.Background(), Location{Hub: "1-1", Port: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(clk.sleeps, []time.Duration{offSettle, 10*time.Second - offSettle}) || tm.Off != 10*time.Second {
		t.Errorf("sleeps %v, timing %+v", clk.sleeps, tm)
	}
}

func TestCycleCancelledStillPowersOn(t *testing.T) {
	ctl := newFakeCtl(t, "bench")
	c, clk := newCycler(ctl, Board{}, false)
	ctx, cancel := context.WithCancel(context.Background())
	c.Sleep = func(_ context.Context, d time.Duration) error {
		clk.now = clk.now.Add(d)
		if d == c.offTime()-offSettle { // the rest of the off time after verifying
			cancel() // shutdown during the off time
			return context.Canceled
		}
		return nil
	}
	_, err := c.Cycle(ctx, Location{Hub: "1-1", Port: 2})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Cycle = %v, want Canceled", err)
	}
	if diff := cmp.Diff([]string{"off 1-1:2", "on 1-1:2"}, ctl.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestCycleOffFailure(t *testing.T) {
	ctl := newFakeCtl(t, "pi4")
	boom := errors.New("hub gone")
	ctl.fail = map[string]error{"off 2:4": boom}
	c, _ := newCycler(ctl, DetectBoard(sysTree("pi4")), false)
	_, err := c.Cycle(context.Background(), Location{Hub: "1-1", Port: 4})
	if !errors.Is(err, boom) {
		t.Fatalf("Cycle = %v, want %v", err, boom)
	}
	// The port that went off comes back on; the one that failed is not touched again.
	if diff := cmp.Diff([]string{"off 1-1:4", "off 2:4", "on 1-1:4"}, ctl.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
