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
	// ErrNoUSB: libusb cannot start or see any bus (no USB, no permission).
	ErrNoUSB = errors.New("USB not available")
	// ErrPowerStuck: the port still reports power after the off request(s):
	// the hub ignores power switching (ganged or no switching, or an emulated
	// hub without power control) or power came back by itself.
	ErrPowerStuck = errors.New("port power did not switch off")
)
