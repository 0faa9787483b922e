package usbpower

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeCtl is a Controller over a hub model: hubs from a tree, every port
// powered, and a log of the switch requests. What the hub reports (Power) is
// what was last requested, as real Pi hubs do even for ports they do not
// switch; whether a port really has VBUS is up to vbus, a model of the
// board's wiring written in the test from the published evidence, apart from
// the code under test. A device whose port loses VBUS leaves the bus: its
// port reports no connection, and with a mutable tree (sys) its
// bus/usb/devices link is removed as the kernel would.
type fakeCtl struct {
	mu       sync.Mutex
	hubs     []Hub
	attached map[hubPort]string // the devices in the tree, by port
	vbus     func(requested func(hubPort) bool, p hubPort) bool
	sys      string
	gone     map[string]string // device -> link target, while off the bus
	calls    []string
	comeBack int              // times power returns by itself after an off
	fail     map[string]error // "off 1-1:2" -> error
}

// perPort is a hub that switches each port on its own (the bench's qemu hub
// with port-power=on, a hub with real per-port switching).
func perPort(requested func(hubPort) bool, p hubPort) bool { return requested(p) }

// newFakeCtl models tree with per-port switching and a read-only tree.
func newFakeCtl(t *testing.T, tree string) *fakeCtl {
	return newFakeBus(t, sysTree(tree), perPort)
}

// newFakeBus models the tree at sys with the given wiring.
func newFakeBus(t *testing.T, sys string, vbus func(func(hubPort) bool, hubPort) bool) *fakeCtl {
	t.Helper()
	hubs, err := ReadTopology(sys)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCtl{hubs: hubs, attached: map[hubPort]string{}, vbus: vbus, gone: map[string]string{}}
	for i := range hubs {
		for j, s := range hubs[i].Status {
			hubs[i].Status[j].Power = true
			if s.Device != "" {
				f.attached[hubPort{hubs[i].Name, s.Port}] = s.Device
			}
		}
	}
	return f
}

// withSysfs makes the fake remove and restore device links in sys (a tree
// of the caller's own) as devices leave and rejoin the bus.
func (f *fakeCtl) withSysfs(sys string) *fakeCtl { f.sys = sys; return f }

func (f *fakeCtl) requested(p hubPort) bool {
	if h, ok := findHub(f.hubs, p.hub); ok {
		if s, ok := h.Port(p.port); ok {
			return s.Power
		}
	}
	return false
}

// settle applies the wiring: devices without VBUS leave, the others return.
func (f *fakeCtl) settle() error {
	for i := range f.hubs {
		for j := range f.hubs[i].Status {
			p := hubPort{f.hubs[i].Name, f.hubs[i].Status[j].Port}
			dev := f.attached[p]
			if dev == "" {
				continue
			}
			on := f.vbus(f.requested, p)
			f.hubs[i].Status[j].Connect = on
			if f.sys == "" {
				continue
			}
			link := filepath.Join(f.sys, "bus", "usb", "devices", dev)
			target, away := f.gone[dev]
			switch {
			case !on && !away:
				target, err := os.Readlink(link)
				if err != nil {
					return err
				}
				f.gone[dev] = target
				if err := os.Remove(link); err != nil {
					return err
				}
			case on && away:
				delete(f.gone, dev)
				if err := os.Symlink(target, link); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (f *fakeCtl) Hubs(ctx context.Context) ([]Hub, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.hubs {
		for j, s := range f.hubs[i].Status {
			if !s.Power && f.comeBack > 0 { // a driver re-powers the port
				f.comeBack--
				f.hubs[i].Status[j].Power = true
			}
		}
	}
	if err := f.settle(); err != nil {
		return nil, err
	}
	out := make([]Hub, len(f.hubs))
	for i := range f.hubs {
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
	return f.settle()
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
	stuck := func(func(hubPort) bool, hubPort) bool { return true } // qemu usb-hub without port-power
	tests := []struct {
		name      string
		tree      string
		vbus      func(func(hubPort) bool, hubPort) bool
		loc       Location
		repeat    bool
		comeBack  int
		wantCalls []string
		wantOff   time.Duration
		wantErr   error
	}{
		{name: "bench", tree: "bench", loc: Location{Hub: "1-1", Port: 2, Device: "1-1.2"},
			wantCalls: []string{"off 1-1:2", "on 1-1:2"}, wantOff: 3 * time.Second}, // the check counts towards OffTime
		{name: "configured hub and port: device from the topology", tree: "bench", loc: Location{Hub: "1-1", Port: 2},
			wantCalls: []string{"off 1-1:2", "on 1-1:2"}, wantOff: 3 * time.Second},
		{name: "hub ignores power switching", tree: "bench", vbus: stuck, loc: Location{Hub: "1-1", Port: 2, Device: "1-1.2"},
			wantCalls: []string{"off 1-1:2", "on 1-1:2"}, wantOff: 3 * time.Second, wantErr: ErrStayedOnBus},
		{name: "power comes back, off re-sent", tree: "bench", loc: Location{Hub: "1-1", Port: 2, Device: "1-1.2"}, repeat: true, comeBack: 1,
			wantCalls: []string{"off 1-1:2", "off 1-1:2", "on 1-1:2"}, wantOff: 3 * time.Second},
		{name: "power comes back, no repeat", tree: "bench", loc: Location{Hub: "1-1", Port: 2, Device: "1-1.2"}, comeBack: 1,
			wantCalls: []string{"off 1-1:2", "on 1-1:2"}, wantOff: 3 * time.Second, wantErr: ErrStayedOnBus},
		{name: "power keeps coming back", tree: "bench", loc: Location{Hub: "1-1", Port: 2, Device: "1-1.2"}, repeat: true, comeBack: 99,
			wantCalls: []string{"off 1-1:2", "off 1-1:2", "off 1-1:2", "off 1-1:2", "on 1-1:2"}, wantOff: 3 * time.Second, wantErr: ErrStayedOnBus},
		{name: "pi3b ethernet refused", tree: "pi3b", loc: Location{Hub: "1-1", Port: 1}, wantErr: ErrUnsafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl := newFakeCtl(t, tt.tree)
			if tt.vbus != nil {
				ctl.vbus = tt.vbus
			}
			ctl.comeBack = tt.comeBack
			c, _ := newCycler(ctl, DetectBoard(sysTree(tt.tree)), tt.repeat)
			tm, err := c.Cycle(context.Background(), tt.loc)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Cycle error = %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, ErrStayedOnBus) && !strings.Contains(err.Error(), "port powered off but the modem (1-1.2) stayed on the bus: ganged or non-switchable hub") {
				t.Errorf("error does not say what happened: %v", err)
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
	sys := freshTree(t, "pi3b")
	ctl.withSysfs(sys)
	c.SysRoot, c.OffTime = sys, 10*time.Second
	if _, err := c.Cycle(context.Background(), Location{Hub: "1-1", Port: 1}); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Board from SysRoot: Cycle(Ethernet) = %v, want ErrUnsafe", err)
	}
	tm, err := c.Cycle(context.Background(), Location{Hub: "1-1", Port: 2, Device: "1-1.2"})
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
	_, err := c.Cycle(ctx, Location{Hub: "1-1", Port: 2, Device: "1-1.2"})
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
	_, err := c.Cycle(context.Background(), Location{Hub: "1-1", Port: 4, Device: "1-1.4"})
	if !errors.Is(err, boom) {
		t.Fatalf("Cycle = %v, want %v", err, boom)
	}
	// The ports that went off come back on; the one that failed and those
	// after it are not touched.
	if diff := cmp.Diff([]string{"off 1-1:1", "off 1-1:2", "off 1-1:3", "off 1-1:4", "off 2:1", "off 2:2", "off 2:3", "off 2:4",
		"on 1-1:1", "on 1-1:2", "on 1-1:3", "on 1-1:4", "on 2:1", "on 2:2", "on 2:3"}, ctl.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
