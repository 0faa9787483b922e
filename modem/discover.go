package modem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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

// ListTTYs reads <sysRoot>/class/tty for ttyUSB* and ttyACM* ports, following
// each port's device link to its USB interface and USB device, and classifies
// every port. Ports that vanish while being read (an unplug) are left out; a
// port whose USB details cannot be read is returned with an empty VID and the
// reason in Why. devRoot (normally /dev) only prefixes DevPath. The result is
// sorted by kernel name in numeric order (ttyUSB2 before ttyUSB10).
func ListTTYs(sysRoot, devRoot string) ([]TTYCandidate, error) {
	classDir := filepath.Join(sysRoot, "class", "tty")
	entries, err := os.ReadDir(classDir)
	if err != nil {
		return nil, fmt.Errorf("list ttys: %w", err)
	}
	var out []TTYCandidate
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "ttyUSB") && !strings.HasPrefix(name, "ttyACM") {
			continue
		}
		c, err := readSysfsTTY(classDir, name)
		if errors.Is(err, fs.ErrNotExist) && !sysfsTTYPresent(classDir, name) {
			continue // unplugged while we looked
		}
		if err != nil {
			c.Why = err.Error()
		}
		c.DevPath = filepath.Join(devRoot, name)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return ttyLess(out[i].Name, out[j].Name) })
	return out, nil
}

func sysfsTTYPresent(classDir, name string) bool {
	_, err := os.Lstat(filepath.Join(classDir, name))
	return err == nil
}

// readSysfsTTY resolves one class/tty entry to its USB interface and device.
func readSysfsTTY(classDir, name string) (TTYCandidate, error) {
	c := TTYCandidate{Name: name, Interface: -1}
	dev, err := filepath.EvalSymlinks(filepath.Join(classDir, name, "device"))
	if err != nil {
		return c, fmt.Errorf("resolve %s device: %w", name, err)
	}
	intf := sysfsFindUp(dev, "bInterfaceNumber", 3)
	if intf == "" {
		return c, fmt.Errorf("%s: no USB interface above %s", name, dev)
	}
	usbDev := filepath.Dir(intf)
	if !sysfsExists(filepath.Join(usbDev, "idVendor")) {
		return c, fmt.Errorf("%s: no USB device above %s", name, intf)
	}
	c.USBDevice = filepath.Base(usbDev)
	if c.VID, err = sysfsAttr(usbDev, "idVendor"); err != nil {
		return c, err
	}
	if c.PID, err = sysfsAttr(usbDev, "idProduct"); err != nil {
		return c, err
	}
	if c.Interface, err = sysfsHexAttr(intf, "bInterfaceNumber"); err != nil {
		return c, err
	}
	// Class codes are informative: a missing one stays 0 rather than hiding the port.
	c.Class, _ = sysfsHexAttr(intf, "bInterfaceClass")
	c.SubClass, _ = sysfsHexAttr(intf, "bInterfaceSubClass")
	c.Protocol, _ = sysfsHexAttr(intf, "bInterfaceProtocol")
	if drv, err := filepath.EvalSymlinks(filepath.Join(intf, "driver")); err == nil {
		c.Driver = filepath.Base(drv)
	}
	classifyPort(&c)
	return c, nil
}

// sysfsFindUp returns the first of dir and up to levels parents holding file.
func sysfsFindUp(dir, file string, levels int) string {
	for i := 0; i <= levels && dir != "/" && dir != "."; i++ {
		if sysfsExists(filepath.Join(dir, file)) {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

func sysfsExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func sysfsAttr(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return strings.ToLower(strings.TrimSpace(string(b))), nil
}

func sysfsHexAttr(dir, name string) (int, error) {
	s, err := sysfsAttr(dir, name)
	if err != nil {
		return -1, err
	}
	v, err := strconv.ParseUint(s, 16, 8)
	if err != nil {
		return -1, fmt.Errorf("parse %s %q: %w", name, s, err)
	}
	return int(v), nil
}

// ttyLess orders tty names by prefix, then by number, so ttyUSB10 follows ttyUSB9.
func ttyLess(a, b string) bool {
	pa, na := splitTTY(a)
	pb, nb := splitTTY(b)
	if pa != pb {
		return pa < pb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitTTY(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		n = -1
	}
	return s[:i], n
}
