package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
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
	// FaultSlowRegistration is a network that loses the modem and is slow to
	// take it back: a call in progress drops and registration stays
	// "searching" (stat 2) for Config.SlowRegistrationDelay, counted from the
	// fault and from every registration start while it lasts.
	FaultSlowRegistration Fault = "slow-registration"
	// FaultPINAgain is a SIM that resets (a brownout at its contacts) and
	// asks for its PIN again: a call in progress drops, registration is
	// lost, and a PIN-locked SIM wants AT+CPIN before it registers again.
	FaultPINAgain Fault = "pin-again"
	// FaultPartialLines delivers command-mode output in fragments of a few
	// bytes with pauses between them, so lines arrive cut anywhere, as from
	// a slow USB serial bridge; the bytes themselves are intact.
	FaultPartialLines Fault = "partial-lines"
)

// ErrUnknownFault is returned by ParseFault for a name it does not know.
var ErrUnknownFault = errors.New("unknown fault")

// Faults lists every fault, for help texts and table tests.
var Faults = []Fault{FaultNone, FaultHang, FaultCarrierDrop, FaultBlackhole,
	FaultGarbage, FaultSIMRemoved, FaultRegDenied, FaultOffBus,
	FaultSlowRegistration, FaultPINAgain, FaultPartialLines}

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

// fragmentPause is the gap between the pieces FaultPartialLines cuts
// output into: long enough for the host's read to return a piece alone.
const fragmentPause = 15 * time.Millisecond

// fragments picks where FaultPartialLines cuts n bytes of output: the
// lengths of pieces of 1 to 8 bytes. Call with m.mu held (the rng).
func (m *Modem) fragments(n int) []int {
	var cuts []int
	for n > 0 {
		k := min(1+m.rng.IntN(8), n)
		cuts = append(cuts, k)
		n -= k
	}
	return cuts
}

// writeFragments writes b to w, in pieces of the lengths in cuts with
// fragmentPause between them, or at once when cuts is empty.
func writeFragments(ctx context.Context, w io.Writer, b []byte, cuts []int) error {
	if len(b) == 0 {
		return nil
	}
	if len(cuts) == 0 {
		_, err := w.Write(b)
		return err
	}
	for i, k := range cuts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(fragmentPause):
			}
		}
		if _, err := w.Write(b[:k]); err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}
