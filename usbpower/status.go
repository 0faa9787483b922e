package usbpower

import (
	"fmt"
	"io"
	"strings"
)

// wPortStatus bits, USB 2.0 table 11-21 and USB 3.x table 10-10.
const (
	StatConnect     = 0x0001
	StatEnable      = 0x0002
	StatSuspend     = 0x0004
	StatOvercurrent = 0x0008
	StatReset       = 0x0010
	StatPower       = 0x0100 // USB 2 hubs
	StatLowSpeed    = 0x0200 // USB 2 hubs
	StatHighSpeed   = 0x0400 // USB 2 hubs
	StatTest        = 0x0800
	StatIndicator   = 0x1000
	StatSSPower     = 0x0200 // USB 3 hubs: power moved here
	StatSSLinkState = 0x01e0 // USB 3 hubs: PORT_LINK_STATE
	StatSSSpeed     = 0x1c00 // USB 3 hubs: 0 = 5 Gbps
)

// PortStatus is one hub port's state. Raw is wPortStatus as the hub sent it;
// the booleans decode it (Power uses the USB 3 bit on USB 3 hubs). Device and
// the identity fields are filled from sysfs when a device is attached.
type PortStatus struct {
	Port                                                                        int
	Power, Connect, Enable, Overcurrent, Reset, LowSpeed, HighSpeed, SuperSpeed bool
	Raw                                                                         uint16
	Device                                                                      string // "1-1.2" if attached
	VIDPID                                                                      string // "0403:6001"
	Manufacturer, Product, Serial                                               string
}

// Hub is one USB hub and its ports. Name is uhubctl's location ("1-1", or "2"
// for the root hub of bus 2); Bus and Path are gousb's. PowerSwitching is what
// the hub descriptor claims ("ganged", "per-port", "none"): Raspberry Pi hubs
// misreport it, so Assess does not trust it there.
type Hub struct {
	Name                          string
	Bus                           int
	Path                          []int
	VIDPID                        string
	Manufacturer, Product, Serial string
	Ports                         int
	USBVersion                    uint16 // bcdUSB: 0x0200, 0x0300
	USB3                          bool
	PowerSwitching                string
	Status                        []PortStatus
}

// Port returns the status of port n, or false if the hub has no such port.
func (h Hub) Port(n int) (PortStatus, bool) {
	for _, s := range h.Status {
		if s.Port == n {
			return s, true
		}
	}
	return PortStatus{}, false
}

// DecodePortStatus decodes wPortStatus; usb3 selects the USB 3 layout.
func DecodePortStatus(raw uint16, usb3 bool) PortStatus {
	s := PortStatus{
		Raw:         raw,
		Connect:     raw&StatConnect != 0,
		Enable:      raw&StatEnable != 0,
		Overcurrent: raw&StatOvercurrent != 0,
		Reset:       raw&StatReset != 0,
	}
	if usb3 {
		s.Power = raw&StatSSPower != 0
		s.SuperSpeed = s.Connect && raw&StatSSSpeed == 0
		return s
	}
	s.Power = raw&StatPower != 0
	s.LowSpeed = raw&StatLowSpeed != 0
	s.HighSpeed = raw&StatHighSpeed != 0
	return s
}

// switchingWord is uhubctl's word for a power switching mode.
func switchingWord(mode string) string {
	switch mode {
	case "per-port":
		return "ppps"
	case "ganged":
		return "ganged"
	default:
		return "nops"
	}
}

// describe is uhubctl's device description: "vid:pid Manufacturer Product Serial".
func describe(vidpid, manufacturer, product, serial string) string {
	parts := []string{vidpid}
	for _, s := range []string{manufacturer, product, serial} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// hubSuffix is uhubctl's hub-only part: ", USB 2.00, 5 ports, ganged".
func hubSuffix(h Hub) string {
	return fmt.Sprintf(", USB %x.%02x, %d ports, %s",
		h.USBVersion>>8, h.USBVersion&0xff, h.Ports, switchingWord(h.PowerSwitching))
}

// FormatStatus writes hub and port status in uhubctl's format so the bench
// can diff `failberry usb status` against `uhubctl` on the same hub:
//
//	Current status for hub 1-1 [0424:9514, USB 2.00, 5 ports, ganged]
//	  Port 1: 0503 power highspeed enable connect [0424:ec00]
//
// Unlike uhubctl it lists every hub it is given, not only per-port switching
// ones, and the power-switching word is the descriptor's, without uhubctl's
// Raspberry Pi 4 override.
func FormatStatus(w io.Writer, hubs []Hub) {
	byName := make(map[string]Hub, len(hubs))
	for _, h := range hubs {
		byName[h.Name] = h
	}
	for _, h := range hubs {
		fmt.Fprintf(w, "Current status for hub %s [%s%s]\n", h.Name,
			describe(h.VIDPID, h.Manufacturer, h.Product, h.Serial), hubSuffix(h))
		for _, s := range h.Status {
			fmt.Fprintf(w, "  Port %d: %04x%s", s.Port, s.Raw, flagWords(s.Raw, h.USB3))
			if s.Raw&StatConnect != 0 {
				d := describe(s.VIDPID, s.Manufacturer, s.Product, s.Serial)
				if child, ok := byName[s.Device]; ok {
					d += hubSuffix(child)
				}
				fmt.Fprintf(w, " [%s]", d)
			}
			fmt.Fprintln(w)
		}
	}
}

// flagWords are uhubctl's words for the set bits, in its order.
func flagWords(raw uint16, usb3 bool) string {
	var b strings.Builder
	add := func(bit uint16, word string) {
		if raw&bit != 0 {
			b.WriteString(" " + word)
		}
	}
	if !usb3 {
		if raw == 0 {
			b.WriteString(" off")
		} else {
			add(StatPower, "power")
			add(StatIndicator, "indicator")
			add(StatTest, "test")
			add(StatHighSpeed, "highspeed")
			add(StatLowSpeed, "lowspeed")
			add(StatSuspend, "suspend")
		}
	} else {
		b.WriteString(ssWords(raw))
	}
	add(StatReset, "reset")
	add(StatOvercurrent, "oc")
	add(StatEnable, "enable")
	add(StatConnect, "connect")
	return b.String()
}

// ssLinkStates names USB 3 PORT_LINK_STATE values as uhubctl does.
var ssLinkStates = map[uint16]string{
	0x0000: "U0", 0x0020: "U1", 0x0040: "U2", 0x0060: "U3",
	0x0080: "SS.Disabled", 0x00a0: "Rx.Detect", 0x00c0: "SS.Inactive",
	0x00e0: "Polling", 0x0100: "Recovery", 0x0120: "HotReset",
	0x0140: "Compliance", 0x0160: "Loopback",
}

// ssWords renders the USB 3 power, speed and link-state words.
func ssWords(raw uint16) string {
	if raw&StatSSPower == 0 {
		return " off"
	}
	s := " power"
	if raw&StatSSSpeed == 0 {
		s += " 5gbps"
	}
	if w, ok := ssLinkStates[raw&StatSSLinkState]; ok {
		s += " " + w
	}
	return s
}
