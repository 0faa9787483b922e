package usbpower

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// BoardKind groups Raspberry Pi models by USB power topology. Each kind's
// rule (gangRule) is taken from published evidence, cited beside it: uhubctl's
// README section on Raspberry Pi topologies
// (https://github.com/mvp/uhubctl#raspberry-pi-turns-power-off-on-all-ports-not-just-the-one-i-specified)
// and its users' reports. None of it has been measured on a Pi by this project.
type BoardKind int

// Board kinds. The zero value, Generic, applies no board-specific rules: the
// hub descriptor's power switching mode and the Ethernet-chip check only.
const (
	Generic  BoardKind = iota
	PiB                // B+, 2B, 3B: LAN9514 hub 1-1, port 1 Ethernet, ports 2-5 ganged on port 2
	Pi3BPlus           // 3B+: LAN7515 hubs 1-1 and 1-1.1, Ethernet 1-1.1.1, every outside port on 1-1 port 2
	Pi4                // 4B: VL805, USB2 hub 1-1 + USB3 root hub 2, VBUS drops only with all 8 ports off
	Pi5                // 5: RP1, VBUS drops only when every port of every onboard root hub is off
	PiZero2W           // Zero 2 W: one OTG port, no power switching at all
)

// String names the kind for logs.
func (k BoardKind) String() string {
	switch k {
	case PiB:
		return "Raspberry Pi B+/2B/3B"
	case Pi3BPlus:
		return "Raspberry Pi 3B+"
	case Pi4:
		return "Raspberry Pi 4B"
	case Pi5:
		return "Raspberry Pi 5"
	case PiZero2W:
		return "Raspberry Pi Zero 2 W"
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

// kindOf maps a model string to its kind; order matters (3B+ before 3B). The
// Pi 4 match is uhubctl's ("Raspberry Pi 4 Model B"): nothing published says
// the Pi 400's VL805 behaves the same, so it stays Generic, where a cycle that
// does not cut power is reported as failed rather than assumed.
func kindOf(model string) BoardKind {
	switch {
	case strings.Contains(model, "Raspberry Pi 5"):
		return Pi5
	case strings.Contains(model, "Raspberry Pi 4 Model B"):
		return Pi4
	case strings.Contains(model, "Raspberry Pi 3 Model B Plus"):
		return Pi3BPlus
	case strings.Contains(model, "Raspberry Pi 3 Model B"),
		strings.Contains(model, "Raspberry Pi 2 Model B"),
		strings.Contains(model, "Raspberry Pi Model B Plus"):
		return PiB
	case strings.Contains(model, "Raspberry Pi Zero 2 W"):
		return PiZero2W
	}
	return Generic
}

// hint is what to check when a cycle on this board did not take the modem
// off the bus.
func (k BoardKind) hint() string {
	switch k {
	case Pi4:
		return "on a Pi 4B, VBUS only drops with VL805 firmware 00137ad or later: check with sudo rpi-eeprom-update"
	case PiZero2W:
		return "the Zero 2 W cannot switch USB power: plug the modem into a hub with per-port power switching"
	}
	return "use a hub with per-port power switching (uhubctl's list of supported hubs)"
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
	// Switch lists the ports whose power must be switched for VBUS to drop
	// at the port asked for. On ganged boards that is not the port itself: on
	// a Pi 3B a modem on port 4 of hub 1-1 loses power only when port 2 is
	// switched, and switching port 4 does nothing (while the hub reports it
	// "off").
	Switch []PortRef
	// Gang lists every port that loses VBUS with it, the asked one included.
	Gang []PortRef
	// Affected lists the other ports in Gang with a device attached: they
	// lose power too, and callers warn about them.
	Affected []PortRef
}

// CheckSafe refuses (ErrUnsafe) a port switch that would cut the Pi's
// Ethernet. It is Assess without the impact.
func CheckSafe(b Board, hubs []Hub, hub string, port int) error {
	_, err := Assess(b, hubs, hub, port)
	return err
}

// Assess works out which ports must be switched to cut the power of
// hub/port on this board, and which lose power with it. It refuses
// (ErrUnsafe) when that would cut the Pi's Ethernet: on any board when a
// known USB Ethernet chip is at or below a port that loses power, and on
// B+/2B/3B/3B+ by the known layout even when the topology is incomplete. It
// refuses (ErrNotSwitchable) a port the board cannot switch at all. hubs may
// come from Controller.Hubs or ReadTopology.
func Assess(b Board, hubs []Hub, hub string, port int) (Impact, error) {
	bus, path, err := ParseDevice(hub)
	if err != nil || port < 1 || port > 255 {
		return Impact{}, fmt.Errorf("switch %s port %d: %w", hub, port, ErrBadName)
	}
	hub = hubName(bus, path)
	control, gang, err := gangRule(b, hubs, hub, port)
	if err != nil {
		return Impact{}, fmt.Errorf("switch %s port %d: %w", hub, port, err)
	}
	var im Impact
	for _, g := range gang {
		im.Gang = append(im.Gang, ref(hubs, g.hub, g.port))
	}
	for _, c := range control {
		im.Switch = append(im.Switch, ref(hubs, c.hub, c.port))
	}
	for _, p := range append(slices.Clone(im.Switch), im.Gang...) {
		if err := ethernetRisk(b, hubs, p); err != nil {
			return Impact{}, err
		}
	}
	for _, p := range im.Gang {
		if p.Device != "" && (p.Hub != hub || p.Port != port) {
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

// ports lists hub's ports from first to last.
func ports(hub string, first, last int) []hubPort {
	var out []hubPort
	for p := first; p <= last; p++ {
		out = append(out, hubPort{hub, p})
	}
	return out
}

// gangRule is the board table: for hub/port, the ports to switch (control)
// and the ports whose VBUS follows them (gang, hub/port included). Every
// entry cites what it is based on.
func gangRule(b Board, hubs []Hub, hub string, port int) (control, gang []hubPort, err error) {
	asked := hubPort{hub, port}
	switch {
	// B+, 2B, 3B. uhubctl README, "Raspberry Pi B+,2B,3B": "Single hub 1-1,
	// ports 2-5 ganged, all controlled by port 2 ... Trying to control ports
	// 3,4,5 will not do anything. Port 1 controls power for Ethernet+WiFi."
	// Confirmed by users: mvp/uhubctl#293 (3B: port 3 reported "0000 off",
	// device still powered; port 2 cut it), #52 (3B: "-p 5" did nothing, "-p
	// 2" switched all ports off and kept Ethernet), #64 (3B: port 2 off
	// stopped a mouse on port 3).
	case b.Kind == PiB && hub == "1-1" && port >= 2 && port <= 5:
		return []hubPort{{"1-1", 2}}, ports("1-1", 2, 5), nil

	// 3B+. uhubctl README, "Raspberry Pi 3B+": "Main hub 1-1, all 4 ports
	// ganged, all controlled by port 2 (turns off secondary hub ports as
	// well). Port 1 connects hub 1-1.1 below, ports 2 and 3 are wired
	// outside, port 4 not wired. Secondary hub 1-1.1: 3 ports, port 1 is used
	// for Ethernet+WiFi, and ports 2 and 3 are wired outside." The listing in
	// mvp/uhubctl#138 (3B+: hubs 1-1 and 1-1.1, both 0424:2514, 0424:7800 on
	// 1-1.1 port 1) is the shape of testdata/pi3bplus-published. Power may
	// come back by itself (mvp/uhubctl#180, 3B+): Cycler.Repeat re-sends.
	case b.Kind == Pi3BPlus && (hub == "1-1" && port >= 2 && port <= 4 || hub == "1-1.1" && (port == 2 || port == 3)):
		return []hubPort{{"1-1", 2}}, append(ports("1-1", 2, 4), ports("1-1.1", 2, 3)...), nil

	// 4B. uhubctl README, "Raspberry Pi 4B": USB2 hub 1-1 (2109:3431), 4
	// ports ganged, dual to USB3 root hub 2, 4 ports ganged; switch with
	// "uhubctl -l 1-1 -a 0" and "uhubctl -l 2 -a 0", and only with VL805
	// firmware 00137ad or later. Users: mvp/uhubctl#353 (single ports of 1-1
	// do nothing, all of 1-1 works), #389 and #327 (ports left powered when
	// only some were switched), PR #232 (the USB3 ports report "0080 off"
	// while power stays on unless all are off).
	case b.Kind == Pi4 && (hub == "1-1" || hub == "2") && port >= 1 && port <= 4:
		all := append(ports("1-1", 1, 4), ports("2", 1, 4)...)
		return all, all, nil

	// 5. uhubctl README, "Raspberry Pi 5": "all 4 ports are ganged together
	// in one group, despite belonging to 4 different logical USB hubs ... VBUS
	// power goes down only if all ports are off", hubs 1-4 (or 2-5). uhubctl
	// applies this only to the onboard root hubs (2-port 1d6b:0002, 1-port
	// 1d6b:0003, uhubctl.c "Raspberry Pi 5 hack"), never to an external hub
	// plugged into them: one such hub (2109:2822, per-port) is on hub 1 port
	// 1 in mvp/uhubctl#607 and keeps its own rules below.
	case b.Kind == Pi5 && isOnboardRoot(hubs, hub):
		var all []hubPort
		for _, h := range hubs {
			if isOnboardRoot(hubs, h.Name) {
				all = append(all, ports(h.Name, 1, h.Ports)...)
			}
		}
		if !slices.Contains(all, asked) { // no topology: switch what we know
			all = append([]hubPort{asked}, all...)
		}
		return all, all, nil

	// Zero 2 W. Its one data port is the SoC's OTG port (root hub 1): "RPI
	// Zero will not work ... You can use any listed hub and connect it to RPi
	// Zero to control power" (mvp/uhubctl#394, with the Zero 2 W's "No
	// compatible smart hubs detected!"); "Raspberry Pi Zero hardware does not
	// support power switching - this is technically impossible" (#467).
	case b.Kind == PiZero2W && !strings.Contains(hub, "-"):
		return nil, nil, fmt.Errorf("%s cannot switch the power of its USB port: %w; %s",
			b.Kind, ErrNotSwitchable, b.Kind.hint())
	}
	// Any other hub (an external hub on any board): the hub descriptor's
	// mode, USB 2.0 11.11: a ganged hub switches all its ports together.
	if h, ok := findHub(hubs, hub); ok && h.PowerSwitching == "ganged" && h.Ports > 1 {
		all := ports(h.Name, 1, h.Ports)
		return all, all, nil
	}
	return []hubPort{asked}, []hubPort{asked}, nil
}

// isOnboardRoot reports whether hub is one of a Pi 5's onboard root hubs
// (uhubctl's test: a root hub that is a 2-port USB 2 or a 1-port USB 3 one).
// Without topology any root hub counts, since the Pi 5 has no other kind.
func isOnboardRoot(hubs []Hub, hub string) bool {
	if strings.Contains(hub, "-") {
		return false
	}
	h, ok := findHub(hubs, hub)
	if !ok {
		return len(hubs) == 0
	}
	return h.VIDPID == "1d6b:0002" && h.Ports == 2 || h.VIDPID == "1d6b:0003" && h.Ports == 1
}
