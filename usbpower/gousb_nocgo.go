//go:build !cgo

package usbpower

import "fmt"

// startLibusb needs cgo (gousb wraps libusb); this build has none, so only
// the sysfs disable files can switch power.
func startLibusb() (hubOpener, func() error, error) {
	return nil, nil, fmt.Errorf("libusb: built without cgo: %w", ErrNoUSB)
}
