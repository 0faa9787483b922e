package usbpower

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Location is where a USB tty's device sits: the device ("1-1.2"), the hub it
// hangs off ("1-1", or "1" for a root hub) and the hub port (2). Bus and
// HubPath are gousb's DeviceDesc.Bus and Path for the hub ([] for a root hub).
// Interface is the tty's bInterfaceNumber (a modem has several ttys; the AT
// port is one fixed interface), -1 if unknown.
type Location struct {
	Hub       string
	Port      int
	Device    string
	Bus       int
	HubPath   []int
	VID, PID  string
	Interface int
}

// TTYInfo is a USB tty as WaitTTY sees it: its name ("ttyUSB1") and where it is.
type TTYInfo struct {
	Name string
	Location
}

// LocateTTY finds the USB device, parent hub and port behind a tty, from
// <sysRoot>/class/tty/<tty>/device. tty may be "/dev/ttyUSB2" or "ttyUSB2".
// Symlinks are resolved and must stay inside sysRoot. ttyUSB numbers change
// when a modem re-enumerates: locate again each time rather than caching.
func LocateTTY(sysRoot, tty string) (Location, error) {
	name := strings.TrimPrefix(tty, "/dev/")
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return Location{}, fmt.Errorf("locate tty %q: %w", tty, ErrBadName)
	}
	root, err := filepath.EvalSymlinks(sysRoot)
	if err != nil {
		return Location{}, fmt.Errorf("locate %s: sysfs root: %w", name, err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, "class", "tty", name, "device"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, e := os.Stat(filepath.Join(root, "class", "tty", name)); e == nil {
				return Location{}, fmt.Errorf("locate %s: no device link: %w", name, ErrNotUSB)
			}
			return Location{}, fmt.Errorf("locate %s: %w", name, ErrNotFound)
		}
		return Location{}, fmt.Errorf("locate %s: %w", name, err)
	}
	if !within(root, real) {
		return Location{}, fmt.Errorf("locate %s: device link leaves %s: %w", name, sysRoot, ErrNotUSB)
	}
	loc, err := locationFromPath(root, real)
	if err != nil {
		return Location{}, fmt.Errorf("locate %s: %w", name, err)
	}
	return loc, nil
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// locationFromPath walks up from a tty's resolved device directory to the USB
// interface ("1-1.2:1.0") and its device ("1-1.2"), and reads their attributes.
func locationFromPath(root, dir string) (Location, error) {
	for d := dir; within(root, d) && d != root; d = filepath.Dir(d) {
		if !ifNameRE.MatchString(filepath.Base(d)) {
			continue
		}
		return locationFromInterface(d)
	}
	return Location{}, fmt.Errorf("%s has no USB interface above it: %w", dir, ErrNotUSB)
}

// locationFromInterface builds a Location from an interface directory.
func locationFromInterface(ifDir string) (Location, error) {
	devDir := filepath.Dir(ifDir)
	bus, path, err := ParseDevice(filepath.Base(devDir))
	if err != nil || len(path) == 0 {
		return Location{}, fmt.Errorf("interface %s is not under a USB device: %w", ifDir, ErrNotUSB)
	}
	vid, err := readAttr(devDir, "idVendor")
	if err != nil {
		return Location{}, fmt.Errorf("read %s: %w", devDir, err)
	}
	loc := Location{
		Hub:       hubName(bus, path[:len(path)-1]),
		Port:      path[len(path)-1],
		Device:    filepath.Base(devDir),
		Bus:       bus,
		HubPath:   path[:len(path)-1],
		VID:       strings.ToLower(vid),
		PID:       strings.ToLower(attr(devDir, "idProduct")),
		Interface: -1,
	}
	if n, err := strconv.ParseUint(attr(ifDir, "bInterfaceNumber"), 16, 8); err == nil {
		loc.Interface = int(n)
	}
	return loc, nil
}

// ListTTYs returns every USB tty under <sysRoot>/class/tty with its location,
// sorted by name. Non-USB ttys are left out.
func ListTTYs(sysRoot string) ([]TTYInfo, error) {
	entries, err := os.ReadDir(filepath.Join(sysRoot, "class", "tty"))
	if err != nil {
		return nil, fmt.Errorf("list ttys: %w", err)
	}
	var out []TTYInfo
	for _, e := range entries {
		loc, err := LocateTTY(sysRoot, e.Name())
		if err != nil {
			continue // not USB, or vanished while we looked
		}
		out = append(out, TTYInfo{Name: e.Name(), Location: loc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// WaitTTY waits, polling every poll (250 ms if <= 0), until a USB tty that
// match accepts appears under sysRoot, and returns its name ("ttyUSB1"; the
// caller adds its /dev root). After a power cycle the modem re-enumerates and
// its ttys may come back under other numbers: match on MatchLocation or
// MatchVIDPID, never on the old name. Returns ctx's error on timeout.
func WaitTTY(ctx context.Context, sysRoot string, match func(TTYInfo) bool, poll time.Duration) (string, error) {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		ttys, _ := ListTTYs(sysRoot)
		for _, tty := range ttys {
			if match(tty) {
				return tty.Name, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for modem tty: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// MatchLocation matches the tty on interface iface (-1: any) of the device at
// the given location ("1-1.2"): the most reliable match after a power cycle,
// since the device comes back on the same port.
func MatchLocation(device string, iface int) func(TTYInfo) bool {
	return func(t TTYInfo) bool {
		return t.Device == device && (iface < 0 || t.Interface == iface)
	}
}

// MatchVIDPID matches the tty on interface iface (-1: any) of any device with
// this vendor and product ID ("12d1", "1506"), for modems moved to another port.
func MatchVIDPID(vid, pid string, iface int) func(TTYInfo) bool {
	return func(t TTYInfo) bool {
		return strings.EqualFold(t.VID, vid) && strings.EqualFold(t.PID, pid) &&
			(iface < 0 || t.Interface == iface)
	}
}
