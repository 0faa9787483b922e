package usbpower

import (
	"context"
	"errors"

	"github.com/failberry/failberry/usbpower/sysfs"
)

// Controller is the OS boundary for hub port power. The real one is NewGousb
// (libusb hub-class requests, plus the kernel's sysfs "disable" file where
// present); tests use a fake. Implementations must be safe to call again:
// switching a port that is already off off again is not an error.
type Controller interface {
	// Hubs lists the USB hubs with the status of every port.
	Hubs(ctx context.Context) ([]Hub, error)
	// SetPortPower switches the power of port (1-based) on hub ("1-1", or
	// "2" for a root hub).
	SetPortPower(ctx context.Context, hub string, port int, on bool) error
}

// Sentinel errors callers branch on; returned errors wrap them.
var (
	// ErrNotFound: the tty, hub or port does not exist (any more). After a
	// power cycle it usually means the device re-enumerated: look it up again.
	// It is the walker's own sentinel, so LocateTTY's errors match it.
	ErrNotFound = sysfs.ErrNotFound
	// ErrNotUSB: the tty exists but is not on USB (ttyS0, ttyAMA0).
	ErrNotUSB = sysfs.ErrNotUSB
	// ErrBadName: a hub, device or tty name that cannot be valid.
	ErrBadName = sysfs.ErrBadName
	// ErrUnsafe: switching the port would cut something the Pi needs (its
	// Ethernet); the operation was refused and nothing was switched.
	ErrUnsafe = errors.New("unsafe port switch")
	// ErrNotSwitchable: the board cannot switch this port's power at all
	// (the Zero 2 W's only port); nothing was switched.
	ErrNotSwitchable = errors.New("port power cannot be switched")
	// ErrNoUSB: libusb cannot start or see any bus (no USB, no permission).
	ErrNoUSB = errors.New("USB not available")
	// ErrStayedOnBus: the off request was accepted but the device never
	// left the bus (its sysfs node stayed, or the hub kept reporting it
	// connected), so its power was not cut: a ganged port switched alone, a
	// hub without power switching (or an emulated one without port-power),
	// old firmware, or power that came back by itself. A hub's "off" status
	// bit is not evidence: Pi hubs report it for ports they do not switch.
	ErrStayedOnBus = errors.New("device stayed on the bus")
)
