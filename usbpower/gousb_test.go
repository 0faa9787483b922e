//go:build cgo

package usbpower

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// The host that runs unit tests has no USB at all: NewGousb must then fail
// with ErrNoUSB or give a controller that lists no or only real hubs; it must
// never panic. The VM bench exercises the real hub.
func TestNewGousbWithoutUSB(t *testing.T) {
	ctl, err := NewGousb(sysTree("bench"), nil)
	if err != nil {
		if !errors.Is(err, ErrNoUSB) {
			t.Fatalf("NewGousb error %v does not wrap ErrNoUSB", err)
		}
		return
	}
	defer func() {
		if err := ctl.(io.Closer).Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hubs, err := ctl.Hubs(ctx)
	t.Logf("libusb started: %d hubs, err %v", len(hubs), err)
	for _, h := range hubs {
		if h.Name == "" || h.Ports != len(h.Status) {
			t.Errorf("hub %+v", h)
		}
	}
	// A hub that is not there is reported, not a panic.
	if err := ctl.SetPortPower(ctx, "9-9.9", 1, true); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNoUSB) {
		t.Errorf("SetPortPower on a missing hub = %v, want ErrNotFound or ErrNoUSB", err)
	}
}

func TestNewGousbRecoversPanic(t *testing.T) {
	// gousb panics inside NewContext when libusb_init fails; the guard must
	// turn any panic there into ErrNoUSB.
	err := guardPanic(func() { panic("libusb: init failure") })
	if !errors.Is(err, ErrNoUSB) {
		t.Fatalf("guardPanic = %v, want ErrNoUSB", err)
	}
}
