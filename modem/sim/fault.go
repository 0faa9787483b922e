package sim

import (
	"errors"
	"fmt"
)

// Fault is a misbehaviour the bench injects at run time to prove failberry
// recovers from it. Faults take effect immediately and last until
// SetFault(FaultNone), or for the firmware faults (hang, off-bus, garbage)
// until the modem loses power.
type Fault string

// The faults the simulator can play.
const (
	// FaultNone is a healthy modem.
	FaultNone Fault = "none"
	// FaultHang reads and discards everything and writes nothing, in command
	// and in data mode: the firmware crash a hub power cycle cures.
	FaultHang Fault = "hang"
	// FaultCarrierDrop ends the current call with NO CARRIER when set;
	// registration stays and new calls connect again.
	FaultCarrierDrop Fault = "carrier-drop"
	// FaultBlackhole keeps PPP control traffic flowing but drops every IPv4
	// and IPv6 frame in both directions: the link looks up, nothing passes.
	FaultBlackhole Fault = "blackhole"
	// FaultGarbage injects random bytes (NUL, 0xff, partial and very long
	// lines) around and between response lines while still answering.
	FaultGarbage Fault = "garbage"
	// FaultSIMRemoved makes the SIM disappear: +CME ERROR: 10, registration 0,
	// dialling fails and a call in progress drops.
	FaultSIMRemoved Fault = "sim-removed"
	// FaultRegDenied makes the network refuse registration (stat 3).
	FaultRegDenied Fault = "reg-denied"
	// FaultOffBus behaves like FaultHang; the bench also detaches the USB
	// device so the tty disappears.
	FaultOffBus Fault = "off-bus"
)

// ErrUnknownFault is returned by ParseFault for a name it does not know.
var ErrUnknownFault = errors.New("unknown fault")

// Faults lists every fault, for help texts and table tests.
var Faults = []Fault{FaultNone, FaultHang, FaultCarrierDrop, FaultBlackhole,
	FaultGarbage, FaultSIMRemoved, FaultRegDenied, FaultOffBus}

// ParseFault turns a name from a flag or the control socket into a Fault;
// "" means FaultNone.
func ParseFault(s string) (Fault, error) {
	if s == "" {
		return FaultNone, nil
	}
	for _, f := range Faults {
		if string(f) == s {
			return f, nil
		}
	}
	return FaultNone, fmt.Errorf("%w %q (known: %v)", ErrUnknownFault, s, Faults)
}

// firmware reports whether the fault lives in the modem's firmware, so that
// losing power cures it.
func (f Fault) firmware() bool { return f == FaultHang || f == FaultOffBus || f == FaultGarbage }

// silent reports whether the fault makes the modem deaf and mute.
func (f Fault) silent() bool { return f == FaultHang || f == FaultOffBus }
