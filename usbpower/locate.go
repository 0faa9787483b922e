package usbpower

import (
	"context"
	"fmt"
	"time"

	"github.com/failberry/failberry/usbpower/sysfs"
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

// LocateTTY finds the USB device, parent hub and port behind a tty, from
// <sysRoot>/class/tty/<tty>/device, with the walker modem discovery uses
// (package sysfs). tty may be "/dev/ttyUSB2" or "ttyUSB2". ttyUSB numbers
// change when a modem re-enumerates: locate again each time.
func LocateTTY(sysRoot, tty string) (Location, error) {
	t, err := sysfs.LocateTTY(sysRoot, tty)
	if err != nil {
		return Location{}, err
	}
	return locationOf(t), nil
}

// LocateNet is LocateTTY for a network-card stick's interface ("usb0"), from
// <sysRoot>/class/net/<name>/device. Interface is the one its driver bound.
func LocateNet(sysRoot, name string) (Location, error) {
	t, err := sysfs.LocateNet(sysRoot, name)
	if err != nil {
		return Location{}, err
	}
	return locationOf(t), nil
}

// locationOf keeps the part of a located tty that the power cycle needs.
func locationOf(t sysfs.TTY) Location {
	return Location{Hub: t.Hub, Port: t.Port, Device: t.Device, Bus: t.Bus, HubPath: t.HubPath,
		VID: t.VID, PID: t.PID, Interface: t.Interface}
}

// WaitTTY waits, polling every poll (250 ms if <= 0), until a USB tty that
// match accepts appears under sysRoot, and returns its name ("ttyUSB1"; the
// caller adds its /dev root). After a power cycle the modem re-enumerates and
// its ttys may come back under other numbers: match on MatchLocation or
// MatchVIDPID, never on the old name. Returns ctx's error on timeout.
func WaitTTY(ctx context.Context, sysRoot string, match func(sysfs.TTY) bool, poll time.Duration) (string, error) {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		ttys, _ := sysfs.ListTTYs(sysRoot)
		for _, tty := range ttys {
			if tty.Err == nil && match(tty) {
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
func MatchLocation(device string, iface int) func(sysfs.TTY) bool {
	return func(t sysfs.TTY) bool {
		return t.Device == device && (iface < 0 || t.Interface == iface)
	}
}
