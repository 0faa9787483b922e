// Package sysfs answers, from sysfs alone, which tty belongs to which USB
// device, interface and hub port. It is the one walker behind both modem
// discovery (which port to probe) and the power cycle (which hub port to
// switch), so the two can never disagree about where a modem is.
//
// It is cgo-free and imports nothing outside the standard library, so the
// modem package can use it without pulling in libusb. The sysfs root is a
// parameter: captured trees in testdata/ drive the same code as /sys.
package sysfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Sentinel errors; returned errors wrap them.
var (
	// ErrNotFound: the tty does not exist (any more). After a power cycle it
	// usually means the device re-enumerated: list again.
	ErrNotFound = errors.New("not found")
	// ErrNotUSB: the tty exists but is not on USB (ttyS0, ttyAMA0), or its
	// device link leaves the sysfs root.
	ErrNotUSB = errors.New("not a USB device")
	// ErrBadName: a tty or USB device name that cannot be valid.
	ErrBadName = errors.New("bad name")
)

// TTY is one tty backed by a USB interface, as the kernel lays it out:
// <root>/class/tty/ttyUSB2/device resolves to .../1-1.2/1-1.2:1.2/ttyUSB2 (a
// usb-serial port) or to the interface itself (cdc-acm), so the interface is
// 1-1.2:1.2, the device 1-1.2, the hub 1-1 and the port 2.
type TTY struct {
	Name   string // kernel name, "ttyUSB2"
	Device string // USB device, "1-1.2"
	// Hub is the parent hub in uhubctl's notation: "1-1", or the bare bus
	// number ("1") for a root hub. Port is the port on it.
	Hub  string
	Port int
	// Bus and HubPath locate the hub the way gousb's DeviceDesc does
	// (HubPath is empty for a root hub).
	Bus                       int
	HubPath                   []int
	VID, PID                  string // lower-case hex, "19d2", "0031"
	Interface                 int    // bInterfaceNumber; -1 when unreadable
	Class, SubClass, Protocol int    // bInterface* codes; 0 when missing
	Driver                    string // interface driver: option, cdc_acm, ...
	// Err is set only in ListTTYs' result, for a ttyUSB*/ttyACM* whose USB
	// details could not be read (it vanished halfway, or sysfs is odd), so
	// discovery can say why it skipped the port. The other fields are then
	// whatever could be read.
	Err error
}

// ifNameRE matches a USB interface directory ("1-1.2:1.0", "2-0:1.0").
var ifNameRE = regexp.MustCompile(`^[0-9]{1,3}-[0-9.]+:[0-9]{1,3}\.[0-9]{1,3}$`)

// devNameRE matches a USB device ("1-1.2") or a root hub ("usb2").
var devNameRE = regexp.MustCompile(`^(?:usb([0-9]{1,3})|([0-9]{1,3})-([0-9]{1,3}(?:\.[0-9]{1,3}){0,6}))$`)

// ParseDevice splits a USB device name into bus and port path, the form gousb
// uses (DeviceDesc.Bus and Path): "1-1.2" -> 1, [1 2]; a root hub given as
// "usb2" or as uhubctl's bare "2" -> 2, []. Garbage gives an error wrapping
// ErrBadName, never a panic.
func ParseDevice(name string) (bus int, path []int, err error) {
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 1000 {
		return n, []int{}, nil
	}
	m := devNameRE.FindStringSubmatch(name)
	if m == nil {
		return 0, nil, fmt.Errorf("parse USB device name %q: %w", name, ErrBadName)
	}
	bus, _ = strconv.Atoi(m[1] + m[2]) // one of them is empty
	if bus == 0 {
		return 0, nil, fmt.Errorf("parse USB device name %q: bus 0: %w", name, ErrBadName)
	}
	if m[1] != "" {
		return bus, []int{}, nil
	}
	for _, p := range strings.Split(m[3], ".") {
		n, _ := strconv.Atoi(p)
		if n == 0 {
			return 0, nil, fmt.Errorf("parse USB device name %q: port 0: %w", name, ErrBadName)
		}
		path = append(path, n)
	}
	return bus, path, nil
}

// HubName is the uhubctl-style location of the hub at bus/path: "1-1.3", or
// the bare bus number ("2") for a root hub, whose sysfs name is "usb2".
func HubName(bus int, path []int) string {
	if len(path) == 0 {
		return strconv.Itoa(bus)
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(bus))
	b.WriteByte('-')
	for i, p := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(p))
	}
	return b.String()
}

// ReadAttr reads one sysfs attribute, trimmed of whitespace and NULs (the
// devicetree's strings end in one).
func ReadAttr(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	return strings.Trim(string(b), " \t\r\n\x00"), nil
}

// LocateTTY finds the USB device, interface, hub and port behind one tty,
// from <root>/class/tty/<tty>/device. tty may be "/dev/ttyUSB2" or "ttyUSB2".
// Symlinks must stay inside root. tty numbers change when a modem
// re-enumerates: locate again each time rather than caching.
func LocateTTY(root, tty string) (TTY, error) {
	name := strings.TrimPrefix(tty, "/dev/")
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return TTY{}, fmt.Errorf("locate tty %q: %w", tty, ErrBadName)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return TTY{}, fmt.Errorf("locate %s: sysfs root: %w", name, err)
	}
	return locate(real, name)
}

// locate is LocateTTY on a resolved root.
func locate(root, name string) (TTY, error) { return locateIn(root, "tty", name) }

// locateIn finds the USB interface behind <root>/class/<class>/<name>: a tty,
// or a network interface (class "net"), whose device link resolves to the
// USB interface itself (1-1.2:1.0).
func locateIn(root, class, name string) (TTY, error) {
	t := TTY{Name: name, Interface: -1}
	classEntry := filepath.Join(root, "class", class, name)
	dev, err := filepath.EvalSymlinks(filepath.Join(classEntry, "device"))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return t, fmt.Errorf("locate %s: %w", name, err)
		}
		if _, e := os.Lstat(classEntry); e == nil { // a dangling link: going away
			return t, fmt.Errorf("locate %s: no device link: %w", name, ErrNotUSB)
		}
		return t, fmt.Errorf("locate %s: %w", name, ErrNotFound)
	}
	if !within(root, dev) {
		return t, fmt.Errorf("locate %s: device link leaves the sysfs root: %w", name, ErrNotUSB)
	}
	ifDir := ""
	for d := dev; within(root, d) && d != root; d = filepath.Dir(d) {
		if ifNameRE.MatchString(filepath.Base(d)) {
			ifDir = d
			break
		}
	}
	if ifDir == "" {
		return t, fmt.Errorf("locate %s: no USB interface above %s: %w", name, dev, ErrNotUSB)
	}
	devDir := filepath.Dir(ifDir)
	bus, path, err := ParseDevice(filepath.Base(devDir))
	if err != nil || len(path) == 0 {
		return t, fmt.Errorf("locate %s: interface %s is not under a USB device: %w", name, filepath.Base(ifDir), ErrNotUSB)
	}
	t.Device = filepath.Base(devDir)
	t.Bus, t.HubPath, t.Port = bus, path[:len(path)-1], path[len(path)-1]
	t.Hub = HubName(bus, t.HubPath)
	vid, err := ReadAttr(devDir, "idVendor")
	if err != nil {
		return t, fmt.Errorf("locate %s: USB device %s: %w", name, t.Device, err)
	}
	t.VID = strings.ToLower(vid)
	pid, err := ReadAttr(devDir, "idProduct")
	if err != nil {
		return t, fmt.Errorf("locate %s: USB device %s: %w", name, t.Device, err)
	}
	t.PID = strings.ToLower(pid)
	// The interface's codes describe the port; a missing or garbled one
	// leaves its default rather than hiding where the port is.
	t.Interface = hexAttr(ifDir, "bInterfaceNumber", -1)
	t.Class = hexAttr(ifDir, "bInterfaceClass", 0)
	t.SubClass = hexAttr(ifDir, "bInterfaceSubClass", 0)
	t.Protocol = hexAttr(ifDir, "bInterfaceProtocol", 0)
	if drv, err := filepath.EvalSymlinks(filepath.Join(ifDir, "driver")); err == nil {
		t.Driver = filepath.Base(drv)
	}
	return t, nil
}

// hexAttr reads a one-byte hex attribute, or def when it is missing or garbled.
func hexAttr(dir, name string, def int) int {
	s, err := ReadAttr(dir, name)
	if err != nil {
		return def
	}
	v, err := strconv.ParseUint(s, 16, 8)
	if err != nil {
		return def
	}
	return int(v)
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ListTTYs lists every tty under <root>/class/tty that sits on a USB
// interface, in numeric name order (ttyUSB2 before ttyUSB10). ttys that are
// not on USB are left out, and so are those that vanish while being read (an
// unplug). A ttyUSB* or ttyACM* (names only USB drivers create) that cannot
// be located is kept with Err set: discovery explains why it skipped it.
func ListTTYs(root string) ([]TTY, error) {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("list ttys: sysfs root: %w", err)
	}
	entries, err := os.ReadDir(filepath.Join(real, "class", "tty"))
	if err != nil {
		return nil, fmt.Errorf("list ttys: %w", err)
	}
	var out []TTY
	for _, e := range entries {
		t, err := locate(real, e.Name())
		switch {
		case err == nil:
		case errors.Is(err, ErrNotFound):
			continue // unplugged while we looked
		case strings.HasPrefix(t.Name, "ttyUSB") || strings.HasPrefix(t.Name, "ttyACM"):
			t.Err = err
		default:
			continue // ttyS0, tty1, ...: not USB
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b TTY) int { return CompareNames(a.Name, b.Name) })
	return out, nil
}

// LocateNet is LocateTTY for a network interface (<root>/class/net/<name>):
// the USB device, interface, hub and port of a network-card stick.
func LocateNet(root, name string) (TTY, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return TTY{}, fmt.Errorf("locate network interface %q: %w", name, ErrBadName)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return TTY{}, fmt.Errorf("locate %s: sysfs root: %w", name, err)
	}
	return locateIn(real, "net", name)
}

// ListNets lists every network interface under <root>/class/net that sits
// on a USB interface (a network-card modem: cdc_ether, rndis_host, cdc_ncm,
// huawei_cdc_ncm), in name order, with the same walk as ListTTYs: TTY then
// describes a network interface (Name "usb0", "enx0c5b8f279a64"). Interfaces
// not on USB (eth0 on a Pi 4, lo) and those that vanish while being read are
// left out. An interface name changes when the stick re-enumerates: match on
// the USB device and interface, never on the old name.
func ListNets(root string) ([]TTY, error) {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: sysfs root: %w", err)
	}
	entries, err := os.ReadDir(filepath.Join(real, "class", "net"))
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []TTY
	for _, e := range entries {
		if t, err := locateIn(real, "net", e.Name()); err == nil {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b TTY) int { return CompareNames(a.Name, b.Name) })
	return out, nil
}

// CompareNames orders tty names by prefix, then by number, so ttyUSB10
// follows ttyUSB9: the kernel numbers a modem's ports in interface order.
func CompareNames(a, b string) int {
	pa, na := splitName(a)
	pb, nb := splitName(b)
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	if na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

func splitName(s string) (string, int) {
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
