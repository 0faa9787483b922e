package modem

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/failberry/failberry/usbpower/sysfs"
)

// PortRole says what a modem's USB interface is for. It decides whether
// discovery may send AT to the port at all: a diagnostics (QCDM/DM) port can be
// wedged by text, so it is never probed.
type PortRole string

// Port roles, from the known-modem table or from driver heuristics.
const (
	// RoleUnknown is a port nothing is known about (a generic USB-serial
	// adapter such as the bench's FTDI): automatic discovery probes it after
	// known modem ports.
	RoleUnknown PortRole = ""
	// RoleModem is the port that accepts AT commands and carries PPP.
	RoleModem PortRole = "modem"
	// RoleAT is a secondary AT port (Huawei PCUI, ZTE aux) that cannot carry
	// PPP: only probed when the selector names its interface.
	RoleAT PortRole = "at"
	// RoleNMEA is a GPS port: never probed automatically.
	RoleNMEA PortRole = "nmea"
	// RoleDiag is a Qualcomm DM/DIAG port: never sent AT.
	RoleDiag PortRole = "diag"
	// RoleAux is a port of a known modem whose use is not AT: never probed
	// automatically.
	RoleAux PortRole = "aux"
)

// TTYCandidate describes one USB serial port (ttyUSB*, ttyACM*) as read from
// sysfs: enough to choose the AT port and to find the USB device to reset.
type TTYCandidate struct {
	Name      string // kernel name, e.g. "ttyUSB2"
	DevPath   string // device node, e.g. "/dev/ttyUSB2"
	Driver    string // USB interface driver: option, ftdi_sio, cdc_acm, qcserial...
	VID, PID  string // lower-case hex, e.g. "19d2", "0031"
	Interface int    // bInterfaceNumber
	USBDevice string // sysfs USB device name, e.g. "1-1.2" (hub "1-1", port 2)
	// Class, SubClass and Protocol are the interface's bInterface* codes.
	Class, SubClass, Protocol int
	// Role is what the port is for; RoleUnknown when nothing is known.
	Role PortRole
	// Diagnostic marks a DM/DIAG port: never send AT to it.
	Diagnostic bool
	// Why explains the role (or why the port could not be read), for logs.
	Why string
}

// Candidates lists the USB serial ports (ttyUSB*, ttyACM*) under
// <sysRoot>/class/tty, located by the walker the power cycle uses too
// (usbpower/sysfs), and classifies every port. Ports that vanish while being
// read (an unplug) are left out; a port whose USB details cannot be read is
// returned with an empty VID or an Interface of -1 and the reason in Why.
// devRoot (normally /dev) only prefixes DevPath. The result is in numeric
// name order (ttyUSB2 before ttyUSB10).
func Candidates(sysRoot, devRoot string) ([]TTYCandidate, error) {
	ttys, err := sysfs.ListTTYs(sysRoot)
	if err != nil {
		return nil, fmt.Errorf("list modem ports: %w", err)
	}
	var out []TTYCandidate
	for _, t := range ttys {
		if !strings.HasPrefix(t.Name, "ttyUSB") && !strings.HasPrefix(t.Name, "ttyACM") {
			continue // a USB tty of another kind (a gadget console): not a modem
		}
		out = append(out, candidate(t, devRoot))
	}
	return out, nil
}

// candidate turns a located tty into a discovery candidate and classifies it.
func candidate(t sysfs.TTY, devRoot string) TTYCandidate {
	c := TTYCandidate{
		Name: t.Name, DevPath: filepath.Join(devRoot, t.Name), Driver: t.Driver,
		VID: t.VID, PID: t.PID, Interface: t.Interface, USBDevice: t.Device,
		Class: t.Class, SubClass: t.SubClass, Protocol: t.Protocol,
	}
	switch {
	case t.Err != nil:
		c.Why = t.Err.Error() // Interface is still -1: Locate skips it
	case t.Interface < 0:
		c.Why = fmt.Sprintf("%s: USB device %s has no readable bInterfaceNumber", t.Name, t.Device)
	default:
		classifyPort(&c)
	}
	return c
}

// sysfsExists reports whether a path exists (a device node, here).
func sysfsExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
