//go:build !cgo

package usbpower

import (
	"fmt"
	"log/slog"
)

// NewGousb needs cgo (gousb wraps libusb); this build has none.
func NewGousb(sysRoot string, logger *slog.Logger) (Controller, error) {
	return nil, fmt.Errorf("libusb: built without cgo: %w", ErrNoUSB)
}
