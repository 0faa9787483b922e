package usbpower

import (
	"fmt"
	"path/filepath"
	"strings"
)

// BoardKind groups Raspberry Pi models by USB power topology.
type BoardKind int

// Board kinds. The zero value, Generic, applies no board-specific rules (only
// the Ethernet-adapter check on attached devices).
const (
	Generic  BoardKind = iota
	PiB                // B+, 2B, 3B: LAN9514 hub 1-1, port 1 Ethernet, ports 2-5 ganged
	Pi3BPlus           // 3B+: LAN7515 hubs 1-1 and 1-1.1, Ethernet 1-1.1.1, all 4 ports ganged
	Pi4                // 4B/400: VL805, USB2 hub 1-1 + USB3 root hub 2 share VBUS, all ganged
	Pi5                // 5: RP1, VBUS drops only when every port of every root hub is off
)

// String names the kind for logs.
func (k BoardKind) String() string {
	switch k {
	case PiB:
		return "Raspberry Pi B+/2B/3B"
	case Pi3BPlus:
		return "Raspberry Pi 3B+"
	case Pi4:
		return "Raspberry Pi 4"
	case Pi5:
		return "Raspberry Pi 5"
	}
	return "generic"
}

// Board is the machine we run on, as far as USB power is concerned.
type Board struct {
	Model string    // devicetree model, "Raspberry Pi 3 Model B Rev 1.2"; "" if unknown
	Kind  BoardKind // derived from Model
}

// DetectBoard reads the devicetree model from root, which may be a sysfs root
// (<root>/firmware/devicetree/base/model) or a procfs root
// (<root>/device-tree/model). Unknown machines give a Generic board.
func DetectBoard(root string) Board {
	for _, p := range []string{"firmware/devicetree/base/model", "device-tree/model"} {
		if m := attr(root, filepath.FromSlash(p)); m != "" {
			return Board{Model: m, Kind: kindOf(m)}
		}
	}
	return Board{}
}

// kindOf maps a model string to its kind; order matters (3B+ before 3B).
func kindOf(model string) BoardKind {
	switch {
	case strings.Contains(model, "Raspberry Pi 5"):
		return Pi5
	case strings.Contains(model, "Raspberry Pi 4"), strings.Contains(model, "Raspberry Pi 400"):
		return Pi4
	case strings.Contains(model, "Raspberry Pi 3 Model B Plus"):
		return Pi3BPlus
	case strings.Contains(model, "Raspberry Pi 3 Model B"),
		strings.Contains(model, "Raspberry Pi 2 Model B"),
		strings.Contains(model, "Raspberry Pi Model B Plus"):
		return PiB
	}
	return Generic
}

// ethernetIDs are USB Ethernet chips a Pi boots its network through.
var ethernetIDs = map[string]bool{"0424:ec00": true, "0424:7800": true, "0424:7500": true}

// PortRef names one hub port and what is attached to it.
type PortRef struct {
	Hub    string
	Port   int
	Device string // "1-1.2" if a device is attached
	VIDPID string
}

// String renders "1-1 port 4 (1-1.4 046d:c52b)" for logs and errors.
func (p PortRef) String() string {
	s := fmt.Sprintf("%s port %d", p.Hub, p.Port)
	if p.Device != "" {
		s += fmt.Sprintf(" (%s %s)", p.Device, p.VIDPID)
	}
	return s
}

// Impact is what switching one port really does on this board.
type Impact struct {
	// Switch lists the ports to switch: the one asked for first, then its
	// partners where the board needs them to actually cut VBUS (Pi 4: the
	// USB3 twin; Pi 5: every root hub port).
	Switch []PortRef
	// Affected lists the other ports with a device attached that lose power
	// too (ganged, or switched as partners); callers should warn about them.
	Affected []PortRef
}

// CheckSafe refuses (ErrUnsafe) a port switch that would cut the Pi's
// Ethernet. It is Assess without the impact.
func CheckSafe(b Board, hubs []Hub, hub string, port int) error {
	_, err := Assess(b, hubs, hub, port)
	return err
}

// Assess works out which ports switching hub/port really switches and
// refuses (ErrUnsafe) when that would cut the Pi's Ethernet: on any board when
// a known USB Ethernet chip is at or below the port or ganged with it, and on
// B+/2B/3B/3B+ by the known layout even when the topology is incomplete.
// hubs may come from Controller.Hubs or ReadTopology.
func Assess(b Board, hubs []Hub, hub string, port int) (Impact, error) {
	bus, path, err := ParseDevice(hub)
	if err != nil || port < 1 || port > 255 {
		return Impact{}, fmt.Errorf("switch %s port %d: %w", hub, port, ErrBadName)
	}
	hub = hubName(bus, path)
	asked := ref(hubs, hub, port)
	gang := gangOf(b, hubs, hub, port)
	for _, p := range append([]PortRef{asked}, gang...) {
		if err := ethernetRisk(b, hubs, p); err != nil {
			return Impact{}, err
		}
	}
	im := Impact{Switch: []PortRef{asked}}
	for _, p := range partnersOf(b, hubs, hub, port) {
		im.Switch = append(im.Switch, p)
	}
	for _, p := range gang {
		if p.Device != "" {
			im.Affected = append(im.Affected, p)
		}
	}
	return im, nil
}

// ref builds a PortRef, with the attached device when hubs knows it.
func ref(hubs []Hub, hub string, port int) PortRef {
	r := PortRef{Hub: hub, Port: port}
	if h, ok := findHub(hubs, hub); ok {
		if s, ok := h.Port(port); ok && s.Device != "" {
			r.Device, r.VIDPID = s.Device, s.VIDPID
		}
	}
	return r
}

func findHub(hubs []Hub, name string) (Hub, bool) {
	if bus, path, err := ParseDevice(name); err == nil {
		name = hubName(bus, path) // accept "usb2" for "2"
	}
	for _, h := range hubs {
		if h.Name == name {
			return h, true
		}
	}
	return Hub{}, false
}

// ethernetRisk refuses a port that carries the Pi's Ethernet, by the board's
// layout or by a known Ethernet chip at or below the port.
func ethernetRisk(b Board, hubs []Hub, p PortRef) error {
	if dev, id, ok := boardEthernet(b, hubs, p); ok {
		return fmt.Errorf("switch %s port %d: would cut the Pi's Ethernet (%s, %s): refusing: %w",
			p.Hub, p.Port, dev, id, ErrUnsafe)
	}
	if p.Device == "" {
		return nil
	}
	for _, h := range hubs {
		for _, s := range h.Status {
			if ethernetIDs[s.VIDPID] && (s.Device == p.Device || strings.HasPrefix(s.Device, p.Device+".")) {
				return fmt.Errorf("switch %s port %d: would cut the Pi's Ethernet (%s, %s): refusing: %w",
					p.Hub, p.Port, s.Device, s.VIDPID, ErrUnsafe)
			}
		}
	}
	return nil
}

// boardEthernet knows where the Ethernet sits on B+/2B/3B and 3B+, unless
// hubs shows the hub there is another chip (a Pi with an external hub at 1-1
// cannot exist, but a wrong model string could).
func boardEthernet(b Board, hubs []Hub, p PortRef) (dev, id string, ok bool) {
	var hubID string
	switch {
	case b.Kind == PiB && p.Hub == "1-1" && p.Port == 1:
		dev, id, hubID = "1-1.1", "0424:ec00", "0424:9514"
	case b.Kind == Pi3BPlus && p.Hub == "1-1" && p.Port == 1:
		dev, id, hubID = "1-1.1.1", "0424:7800", "0424:2514"
	case b.Kind == Pi3BPlus && p.Hub == "1-1.1" && p.Port == 1:
		dev, id, hubID = "1-1.1.1", "0424:7800", "0424:2514"
	default:
		return "", "", false
	}
	if h, found := findHub(hubs, p.Hub); found && h.VIDPID != "" && h.VIDPID != hubID {
		return "", "", false
	}
	return dev, id, true
}

// hubPort is a hub name and port number.
type hubPort struct {
	hub  string
	port int
}

// gangOf lists the ports that lose power together with hub/port on this board
// (not including the port itself).
func gangOf(b Board, hubs []Hub, hub string, port int) []PortRef {
	var group []hubPort
	switch {
	case b.Kind == PiB && hub == "1-1" && port >= 2 && port <= 5:
		group = []hubPort{{"1-1", 2}, {"1-1", 3}, {"1-1", 4}, {"1-1", 5}}
	case b.Kind == Pi3BPlus && (hub == "1-1" || hub == "1-1.1") && port >= 2 && port <= 3:
		group = []hubPort{{"1-1", 2}, {"1-1", 3}, {"1-1.1", 2}, {"1-1.1", 3}}
	case b.Kind == Pi4 && (hub == "1-1" || hub == "2"):
		for p := 1; p <= 4; p++ {
			group = append(group, hubPort{"1-1", p}, hubPort{"2", p})
		}
	case b.Kind == Pi5:
		return others(rootPorts(hubs), hub, port)
	default:
		if h, ok := findHub(hubs, hub); ok && h.PowerSwitching == "ganged" {
			for _, s := range h.Status {
				group = append(group, hubPort{h.Name, s.Port})
			}
		}
	}
	var refs []PortRef
	for _, g := range group {
		refs = append(refs, ref(hubs, g.hub, g.port))
	}
	return others(refs, hub, port)
}

// partnersOf lists the other ports that must be switched too for VBUS to drop.
func partnersOf(b Board, hubs []Hub, hub string, port int) []PortRef {
	switch {
	case b.Kind == Pi4 && hub == "1-1" && port <= 4:
		return []PortRef{ref(hubs, "2", port)}
	case b.Kind == Pi4 && hub == "2" && port <= 4:
		return []PortRef{ref(hubs, "1-1", port)}
	case b.Kind == Pi5:
		return others(rootPorts(hubs), hub, port)
	}
	return nil
}

// rootPorts lists every port of every root hub (Pi 5: all USB-A ports).
func rootPorts(hubs []Hub) []PortRef {
	var refs []PortRef
	for _, h := range hubs {
		if len(h.Path) != 0 {
			continue
		}
		for p := 1; p <= h.Ports; p++ {
			refs = append(refs, ref(hubs, h.Name, p))
		}
	}
	return refs
}

// others drops hub/port from refs.
func others(refs []PortRef, hub string, port int) []PortRef {
	var out []PortRef
	for _, r := range refs {
		if r.Hub != hub || r.Port != port {
			out = append(out, r)
		}
	}
	return out
}
