//go:build cgo

package usbpower

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/gousb"
)

// controlTimeout bounds each hub request; gousb's default 0 waits forever.
const controlTimeout = 2 * time.Second

// startLibusb starts libusb through gousb; an ErrNoUSB error, never a
// panic, when it cannot.
func startLibusb() (hubOpener, func() error, error) {
	ctx, err := newGousbContext()
	if err != nil {
		return nil, nil, err
	}
	return gousbOpener{ctx: ctx}, ctx.Close, nil
}

// newGousbContext guards gousb.NewContext, which panics when libusb_init fails.
func newGousbContext() (*gousb.Context, error) {
	var ctx *gousb.Context
	if err := guardPanic(func() { ctx = gousb.NewContext() }); err != nil {
		return nil, err
	}
	return ctx, nil
}

// guardPanic runs f and turns a panic into an ErrNoUSB error.
func guardPanic(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start libusb: %v: %w", r, ErrNoUSB)
		}
	}()
	f()
	return nil
}

// gousbOpener opens hubs with gousb.
type gousbOpener struct{ ctx *gousb.Context }

// OpenHubs opens every hub-class device match accepts.
func (o gousbOpener) OpenHubs(match func(bus int, path []int) bool) ([]openHub, error) {
	devs, err := o.ctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		return d.Class == gousb.ClassHub && (match == nil || match(d.Bus, d.Path))
	})
	hubs := make([]openHub, 0, len(devs))
	for _, d := range devs {
		d.ControlTimeout = controlTimeout
		hubs = append(hubs, openHub{
			Bus:        d.Desc.Bus,
			Path:       slices.Clone(d.Desc.Path),
			VIDPID:     fmt.Sprintf("%04x:%04x", uint16(d.Desc.Vendor), uint16(d.Desc.Product)),
			USBVersion: uint16(d.Desc.Spec),
			Dev:        gousbDevice{d},
		})
	}
	return hubs, mapUSBError(err)
}

// gousbDevice adapts *gousb.Device, mapping its errors to our sentinels.
type gousbDevice struct{ d *gousb.Device }

// Control sends one control request.
func (g gousbDevice) Control(rType, request uint8, val, idx uint16, data []byte) (int, error) {
	n, err := g.d.Control(rType, request, val, idx, data)
	return n, mapUSBError(err)
}

// Close releases the device handle.
func (g gousbDevice) Close() error { return g.d.Close() }

// mapUSBError checks gousb's errors before wrapping them: gousb formats some
// with %v, so errors.Is must run on the raw value.
func mapUSBError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gousb.ErrorNoDevice), errors.Is(err, gousb.ErrorNotFound):
		return fmt.Errorf("%v: %w", err, ErrNotFound)
	case errors.Is(err, gousb.ErrorAccess):
		return fmt.Errorf("%v (run as root or add a udev rule): %w", err, ErrNoUSB)
	case errors.Is(err, gousb.ErrorPipe):
		return fmt.Errorf("request stalled, the hub does not support it: %w", err)
	}
	return err
}
