package usbpower

import (
	"log/slog"
	"strings"

	"github.com/failberry/failberry/usbpower/sysfs"
)

// Test-only shorthands over the package's API.

// CheckSafe refuses (ErrUnsafe) a port switch that would cut the Pi's
// Ethernet. It is Assess without the impact.
func CheckSafe(b Board, hubs []Hub, hub string, port int) error {
	_, err := Assess(b, hubs, hub, port)
	return err
}

// newHubController is a controller over an opener that is already started.
func newHubController(sysRoot string, log *slog.Logger, o hubOpener, closeFn func() error) *hubController {
	return newLazyController(sysRoot, log, func() (hubOpener, func() error, error) { return o, closeFn, nil })
}

// MatchVIDPID matches the tty on interface iface (-1: any) of any device with
// this vendor and product ID ("12d1", "1506"), for modems moved to another port.
func MatchVIDPID(vid, pid string, iface int) func(sysfs.TTY) bool {
	return func(t sysfs.TTY) bool {
		return strings.EqualFold(t.VID, vid) && strings.EqualFold(t.PID, pid) &&
			(iface < 0 || t.Interface == iface)
	}
}
