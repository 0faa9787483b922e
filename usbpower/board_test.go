package usbpower

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetectBoard(t *testing.T) {
	tests := map[string]BoardKind{"bench": Generic, "pi3b": PiB, "pi3bplus": Pi3BPlus, "pi4": Pi4, "pi5": Pi5}
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

func TestAssessGangedAndPartners(t *testing.T) {
	tests := []struct {
		tree, hub string
		port      int
		want      Impact
	}{
		{"pi3b", "1-1", 2, Impact{
			Switch:   []PortRef{{"1-1", 2, "1-1.2", "19d2:0031"}},
			Affected: []PortRef{{"1-1", 4, "1-1.4", "046d:c52b"}},
		}},
		{"pi3bplus", "1-1", 3, Impact{Switch: []PortRef{{"1-1", 3, "1-1.3", "12d1:1506"}}}},
		{"pi4", "1-1", 4, Impact{Switch: []PortRef{{"1-1", 4, "1-1.4", "19d2:0031"}, {"2", 4, "", ""}}}},
		{"pi4", "usb2", 4, Impact{
			Switch:   []PortRef{{"2", 4, "", ""}, {"1-1", 4, "1-1.4", "19d2:0031"}},
			Affected: []PortRef{{"1-1", 4, "1-1.4", "19d2:0031"}},
		}},
		{"pi4", "2", 1, Impact{
			Switch:   []PortRef{{"2", 1, "", ""}, {"1-1", 1, "", ""}},
			Affected: []PortRef{{"1-1", 4, "1-1.4", "19d2:0031"}},
		}},
		{"pi5", "3", 1, Impact{Switch: []PortRef{
			{"3", 1, "3-1", "2c7c:0125"}, {"1", 1, "", ""}, {"1", 2, "", ""}, {"2", 1, "", ""}, {"3", 2, "", ""}, {"4", 1, "", ""},
		}}},
		{"bench", "1-1", 2, Impact{Switch: []PortRef{{"1-1", 2, "1-1.2", "0403:6001"}}}},
	}
	for _, tt := range tests {
		b, hubs := topology(t, tt.tree)
		got, err := Assess(b, hubs, tt.hub, tt.port)
		if err != nil {
			t.Errorf("%s: Assess(%s, %d): %v", tt.tree, tt.hub, tt.port, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Assess(%s, %d) (-want +got):\n%s", tt.tree, tt.hub, tt.port, diff)
		}
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
	if diff := cmp.Diff([]PortRef{{"1-1", 1, "1-1.1", "046d:c52b"}}, im.Affected); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
}
