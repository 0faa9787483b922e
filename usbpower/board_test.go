package usbpower

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetectBoard(t *testing.T) {
	tests := map[string]BoardKind{"bench": Generic, "pi3b": PiB, "pi3bplus": Pi3BPlus, "pi4": Pi4, "pi5": Pi5,
		"pi3b-published": PiB, "pi3bplus-published": Pi3BPlus, "pi4-published": Pi4, "pi5-published": Pi5}
	for tree, want := range tests {
		b := DetectBoard(sysTree(tree))
		if b.Kind != want {
			t.Errorf("DetectBoard(%s) = %+v, want kind %v", tree, b, want)
		}
		if want != Generic && !strings.HasPrefix(b.Model, "Raspberry Pi") {
			t.Errorf("DetectBoard(%s).Model = %q", tree, b.Model)
		}
	}
	if b := DetectBoard("/nonexistent"); b != (Board{}) {
		t.Errorf("DetectBoard(missing) = %+v, want zero", b)
	}
}

func topology(t *testing.T, tree string) (Board, []Hub) {
	t.Helper()
	hubs, err := ReadTopology(sysTree(tree))
	if err != nil {
		t.Fatal(err)
	}
	return DetectBoard(sysTree(tree)), hubs
}

func TestReadTopology(t *testing.T) {
	_, hubs := topology(t, "pi3b")
	var names []string
	for _, h := range hubs {
		names = append(names, h.Name)
	}
	if diff := cmp.Diff([]string{"1", "1-1"}, names); diff != "" {
		t.Fatalf("hubs (-want +got):\n%s", diff)
	}
	h := hubs[1]
	if h.VIDPID != "0424:9514" || h.Ports != 5 || h.USBVersion != 0x0200 || len(h.Status) != 5 {
		t.Errorf("hub 1-1 = %+v", h)
	}
	want := []string{"1-1.1 0424:ec00", "1-1.2 19d2:0031", "", "1-1.4 046d:c52b", ""}
	for i, s := range h.Status {
		got := ""
		if s.Connect {
			got = s.Device + " " + s.VIDPID
		}
		if got != want[i] {
			t.Errorf("port %d = %q, want %q", s.Port, got, want[i])
		}
	}
}

// failberry usb off on the Ethernet port of a captured Pi 3B tree is refused.
func TestCheckSafeRefusesEthernet(t *testing.T) {
	tests := []struct {
		tree, hub string
		port      int
		msg       string
	}{
		{"pi3b", "1-1", 1, "would cut the Pi's Ethernet (1-1.1, 0424:ec00): refusing"},
		{"pi3b", "1", 1, "would cut the Pi's Ethernet (1-1.1, 0424:ec00): refusing"},
		{"pi3b", "usb1", 1, "would cut the Pi's Ethernet (1-1.1, 0424:ec00): refusing"},
		{"pi3bplus", "1-1", 1, "would cut the Pi's Ethernet (1-1.1.1, 0424:7800): refusing"},
		{"pi3bplus", "1-1.1", 1, "would cut the Pi's Ethernet (1-1.1.1, 0424:7800): refusing"},
		{"pi3b-published", "1-1", 1, "would cut the Pi's Ethernet (1-1.1, 0424:ec00): refusing"},
		{"pi3b-published", "1", 1, "would cut the Pi's Ethernet (1-1.1, 0424:ec00): refusing"},
		{"pi3bplus-published", "1-1", 1, "would cut the Pi's Ethernet (1-1.1.1, 0424:7800): refusing"},
		{"pi3bplus-published", "1-1.1", 1, "would cut the Pi's Ethernet (1-1.1.1, 0424:7800): refusing"},
	}
	for _, tt := range tests {
		b, hubs := topology(t, tt.tree)
		err := CheckSafe(b, hubs, tt.hub, tt.port)
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: CheckSafe(%s port %d) = %v, want ErrUnsafe %q", tt.tree, tt.hub, tt.port, err, tt.msg)
		}
	}
	// By the board's layout alone, without topology.
	for _, b := range []Board{{Kind: PiB}, {Kind: Pi3BPlus}} {
		if err := CheckSafe(b, nil, "1-1", 1); !errors.Is(err, ErrUnsafe) {
			t.Errorf("CheckSafe(%v, no topology, 1-1 port 1) = %v, want ErrUnsafe", b.Kind, err)
		}
	}
	// By the Ethernet chip alone, on a board we do not recognise.
	_, hubs := topology(t, "pi3b")
	if err := CheckSafe(Board{}, hubs, "1-1", 1); !errors.Is(err, ErrUnsafe) {
		t.Errorf("CheckSafe(generic board, 0424:ec00 on port 1) = %v, want ErrUnsafe", err)
	}
}

// Wiring models of the boards, written from the evidence cited in gangRule
// and kept apart from it: which ports really have VBUS given the requests
// the hubs were sent. The code under test never sees them; the fake bus
// uses them to decide which devices leave the bus.
func piBWiring(req func(hubPort) bool, p hubPort) bool {
	if p.hub == "1-1" && p.port >= 2 { // ports 2-5 follow port 2 (uhubctl README; #293, #52, #64)
		return req(hubPort{"1-1", 2})
	}
	return req(p)
}

func pi3BPlusWiring(req func(hubPort) bool, p hubPort) bool {
	if (p.hub == "1-1" || p.hub == "1-1.1") && p.port >= 2 { // every outside port follows 1-1 port 2 (uhubctl README)
		return req(hubPort{"1-1", 2})
	}
	return req(p)
}

func pi4Wiring(req func(hubPort) bool, p hubPort) bool {
	if p.hub != "1-1" && p.hub != "2" {
		return req(p)
	}
	for _, h := range []string{"1-1", "2"} { // VBUS stays while any of the 8 is on (uhubctl README; #353, PR #232)
		for port := 1; port <= 4; port++ {
			if req(hubPort{h, port}) {
				return true
			}
		}
	}
	return false
}

func pi5Wiring(req func(hubPort) bool, p hubPort) bool {
	if strings.Contains(p.hub, "-") { // an external hub: its own port, and power from upstream
		up, port := upstream(p.hub)
		return req(p) && pi5Wiring(req, hubPort{up, port})
	}
	for _, r := range []hubPort{{"1", 1}, {"1", 2}, {"2", 1}, {"3", 1}, {"3", 2}, {"4", 1}} {
		if req(r) { // one gang across the four root hubs (uhubctl README "Raspberry Pi 5")
			return true
		}
	}
	return false
}

// upstream is the hub and port a hub hangs off: "1-1.3" -> "1-1", 3.
func upstream(hub string) (string, int) {
	bus, path, _ := ParseDevice(hub)
	return hubName(bus, path[:len(path)-1]), path[len(path)-1]
}

func refNames(refs []PortRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, fmt.Sprintf("%s:%d", r.Hub, r.Port))
	}
	return out
}

// For each board, on trees reconstructed from published listings where
// there is one: which ports a cycle of the modem's port switches, which lose
// power with it, and that the cycle takes the modem off the bus; and that
// switching the modem's own port alone (what the tables did before) leaves
// it on the bus and fails the cycle, although every hub reports "off".
func TestBoardCycleCutsPower(t *testing.T) {
	tests := []struct {
		name, tree, tty string
		wiring          func(func(hubPort) bool, hubPort) bool
		wantSwitch      []string
		wantGang        []string
		aloneStays      bool // switching the modem's port alone leaves it powered
	}{
		{"3B, modem on port 3 (uhubctl#293)", "pi3b-published", "ttyUSB0", piBWiring,
			[]string{"1-1:2"}, []string{"1-1:2", "1-1:3", "1-1:4", "1-1:5"}, true},
		{"3B, modem on port 2", "pi3b", "ttyUSB2", piBWiring,
			[]string{"1-1:2"}, []string{"1-1:2", "1-1:3", "1-1:4", "1-1:5"}, false},
		{"3B+, modem on hub 1-1 port 3", "pi3bplus", "ttyUSB0", pi3BPlusWiring,
			[]string{"1-1:2"}, []string{"1-1:2", "1-1:3", "1-1:4", "1-1.1:2", "1-1.1:3"}, true},
		{"4B, serial adapter on 1-1 port 3 (uhubctl#327)", "pi4-published", "ttyUSB0", pi4Wiring,
			[]string{"1-1:1", "1-1:2", "1-1:3", "1-1:4", "2:1", "2:2", "2:3", "2:4"},
			[]string{"1-1:1", "1-1:2", "1-1:3", "1-1:4", "2:1", "2:2", "2:3", "2:4"}, true},
		{"5, FTDI on hub 1 port 2 (uhubctl#547)", "pi5-published", "ttyUSB0", pi5Wiring,
			[]string{"1:1", "1:2", "2:1", "3:1", "3:2", "4:1"}, []string{"1:1", "1:2", "2:1", "3:1", "3:2", "4:1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := freshTree(t, tt.tree)
			board := DetectBoard(sys)
			loc, err := LocateTTY(sys, tt.tty)
			if err != nil {
				t.Fatal(err)
			}
			hubs, err := ReadTopology(sys)
			if err != nil {
				t.Fatal(err)
			}
			im, err := Assess(board, hubs, loc.Hub, loc.Port)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantSwitch, refNames(im.Switch)); diff != "" {
				t.Errorf("switched ports (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGang, refNames(im.Gang)); diff != "" {
				t.Errorf("ports losing power (-want +got):\n%s", diff)
			}

			ctl := newFakeBus(t, sys, tt.wiring).withSysfs(sys)
			c, _ := newCycler(ctl, board, true)
			c.SysRoot = sys
			if _, err := c.Cycle(context.Background(), loc); err != nil {
				t.Fatalf("Cycle with the board's rule: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(sys, "bus", "usb", "devices", loc.Device)); err != nil {
				t.Errorf("%s not back on the bus after the cycle: %v", loc.Device, err)
			}

			ctl = newFakeBus(t, sys, tt.wiring).withSysfs(sys)
			c, _ = newCycler(ctl, Board{Model: "no board rule"}, true) // the modem's own port only, as before
			c.SysRoot = sys
			_, err = c.Cycle(context.Background(), loc)
			if tt.aloneStays != errors.Is(err, ErrStayedOnBus) {
				t.Errorf("switching %s port %d alone: err = %v, want ErrStayedOnBus %v", loc.Hub, loc.Port, err, tt.aloneStays)
			}
		})
	}
}

// The Pi 5 rule is for its four onboard root hubs only: a per-port hub
// plugged into one of them (uhubctl#607) switches its own port alone.
func TestAssessPi5ExternalHub(t *testing.T) {
	b, hubs := topology(t, "pi5-exthub-published")
	im, err := Assess(b, hubs, "1-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1-1:3"}, refNames(im.Switch)); diff != "" {
		t.Errorf("switched (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1-1:3"}, refNames(im.Gang)); diff != "" {
		t.Errorf("gang (-want +got):\n%s", diff)
	}
	im, err = Assess(b, hubs, "1", 1) // the external hub's own root port is in the onboard gang
	if err != nil || len(im.Switch) != 6 {
		t.Errorf("Assess(1, 1) = %v, %v; want the six onboard ports", refNames(im.Switch), err)
	}
}

func TestAssess3BPlusPublished(t *testing.T) {
	b, hubs := topology(t, "pi3bplus-published")
	for _, at := range []hubPort{{"1-1", 2}, {"1-1", 3}, {"1-1.1", 2}, {"1-1.1", 3}} {
		im, err := Assess(b, hubs, at.hub, at.port)
		if err != nil {
			t.Fatalf("Assess(%v): %v", at, err)
		}
		if diff := cmp.Diff([]string{"1-1:2"}, refNames(im.Switch)); diff != "" {
			t.Errorf("Assess(%v) switched (-want +got):\n%s", at, diff)
		}
	}
}

func TestZero2WCannotSwitch(t *testing.T) {
	b := Board{Model: "Raspberry Pi Zero 2 W Rev 1.0", Kind: kindOf("Raspberry Pi Zero 2 W Rev 1.0")}
	_, err := Assess(b, nil, "1", 1)
	if !errors.Is(err, ErrNotSwitchable) || !strings.Contains(err.Error(), "hub with per-port power switching") {
		t.Errorf("Assess(Zero 2 W, its only port) = %v, want ErrNotSwitchable suggesting a hub", err)
	}
	im, err := Assess(b, nil, "1-1", 2) // a hub plugged into it switches as usual
	if err != nil || !cmp.Equal(refNames(im.Switch), []string{"1-1:2"}) {
		t.Errorf("Assess(Zero 2 W, external hub) = %v, %v", refNames(im.Switch), err)
	}
}

func TestAssessBadInput(t *testing.T) {
	for _, in := range []struct {
		hub  string
		port int
	}{{"", 1}, {"x", 1}, {"1-1", 0}, {"1-1", -3}, {"1-1", 256}, {"1-1:1.0", 1}} {
		if _, err := Assess(Board{Kind: Pi4}, nil, in.hub, in.port); !errors.Is(err, ErrBadName) {
			t.Errorf("Assess(%q, %d) = %v, want ErrBadName", in.hub, in.port, err)
		}
	}
}

func TestAssessGenericGangedHub(t *testing.T) {
	hubs := []Hub{{Name: "1-1", Bus: 1, Path: []int{1}, VIDPID: "05e3:0608", Ports: 4, PowerSwitching: "ganged", Status: []PortStatus{
		{Port: 1, Connect: true, Device: "1-1.1", VIDPID: "0424:7800"},
		{Port: 2}, {Port: 3, Connect: true, Device: "1-1.3", VIDPID: "12d1:1506"}, {Port: 4},
	}}}
	if err := CheckSafe(Board{}, hubs, "1-1", 3); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "(1-1.1, 0424:7800)") {
		t.Errorf("ganged hub with Ethernet on another port: %v, want ErrUnsafe", err)
	}
	hubs[0].Status[0] = PortStatus{Port: 1, Connect: true, Device: "1-1.1", VIDPID: "046d:c52b"}
	im, err := Assess(Board{}, hubs, "1-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1-1:1", "1-1:2", "1-1:3", "1-1:4"}, refNames(im.Switch)); diff != "" {
		t.Errorf("a ganged hub switches all its ports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]PortRef{{"1-1", 1, "1-1.1", "046d:c52b"}}, im.Affected); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
}
