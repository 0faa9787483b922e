package usbpower

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Cycler power-cycles the hub port of a modem. The zero value is not usable:
// set Ctl; the rest have defaults.
type Cycler struct {
	Ctl     Controller
	SysRoot string // Board is detected from it when Board is zero; may be ""
	Logger  *slog.Logger
	// OffTime is how long the port stays off; 3 s when zero. Modems need
	// their capacitors drained, not a blink.
	OffTime time.Duration
	// Board selects the Raspberry Pi rules (refuse Ethernet, switch partners).
	Board Board
	// Repeat re-sends the off request (up to 3 times) when the port reports
	// power again after it: the Pi 3B+ hub re-powers ports by itself.
	Repeat bool
	// Sleep and Now are the clock; nil means the real one. Tests inject fakes.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// Timing is how long a cycle took: Off from the first off request until the
// power-on request was sent (the time without power), On for the power-on
// requests themselves.
type Timing struct {
	Off, On time.Duration
}

// offRetries bounds the re-sent off requests; offSettle is the pause before
// checking the port again (uhubctl waits 20 ms between repeats; USB 3 hubs
// need ~150 ms to actually drop power).
const (
	offRetries = 3
	offSettle  = 200 * time.Millisecond
)

// Cycle switches loc's port off (and its partner ports where the board needs
// it), verifies power is off with GetPortStatus, re-sending the off request
// when Repeat is set and power came back, waits OffTime, and switches it on
// again. It refuses (ErrUnsafe) before switching anything that would cut the
// Pi's Ethernet. Once a port is off it is always switched on again, even when
// ctx is cancelled or verification fails.
func (c *Cycler) Cycle(ctx context.Context, loc Location) (Timing, error) {
	log := c.logger()
	hubs, err := c.Ctl.Hubs(ctx)
	if err != nil {
		return Timing{}, fmt.Errorf("power cycle %s port %d: %w", loc.Hub, loc.Port, err)
	}
	board := c.Board
	if board == (Board{}) && c.SysRoot != "" {
		board = DetectBoard(c.SysRoot)
	}
	im, err := Assess(board, hubs, loc.Hub, loc.Port)
	if err != nil {
		return Timing{}, fmt.Errorf("power cycle: %w", err)
	}
	if len(im.Affected) > 0 {
		log.Warn("ganged ports lose power too", "hub", loc.Hub, "port", loc.Port, "affected", fmt.Sprint(im.Affected))
	}
	start := c.now()
	switched, offErr := c.switchAll(ctx, im.Switch, false)
	if offErr == nil {
		offErr = c.verifyOff(ctx, im.Switch)
	}
	if offErr == nil { // the verification already counts towards OffTime
		offErr = c.sleep(ctx, max(0, c.offTime()-c.now().Sub(start)))
	}
	onCtx := context.WithoutCancel(ctx) // never leave the modem unpowered
	onStart := c.now()
	_, onErr := c.switchAll(onCtx, switched, true)
	t := Timing{Off: onStart.Sub(start), On: c.now().Sub(onStart)}
	if err := errors.Join(offErr, onErr); err != nil {
		return t, fmt.Errorf("power cycle %s port %d: %w", loc.Hub, loc.Port, err)
	}
	log.Info("port power cycled", "hub", loc.Hub, "port", loc.Port, "off", t.Off, "on", t.On)
	return t, nil
}

// switchAll switches every port; it returns those switched so far.
func (c *Cycler) switchAll(ctx context.Context, ports []PortRef, on bool) ([]PortRef, error) {
	var done []PortRef
	var errs []error
	for _, p := range ports {
		if err := c.Ctl.SetPortPower(ctx, p.Hub, p.Port, on); err != nil {
			if !on {
				return done, err // stop switching off at the first failure
			}
			errs = append(errs, err)
			continue
		}
		done = append(done, p)
	}
	return done, errors.Join(errs...)
}

// verifyOff checks the ports report no power; with Repeat it re-sends the off
// request to ports that came back on by themselves.
func (c *Cycler) verifyOff(ctx context.Context, ports []PortRef) error {
	for try := 0; ; try++ {
		if err := c.sleep(ctx, offSettle); err != nil {
			return err
		}
		hubs, err := c.Ctl.Hubs(ctx)
		if err != nil {
			return fmt.Errorf("verify power off: %w", err)
		}
		still := poweredPorts(hubs, ports)
		if len(still) == 0 {
			return nil
		}
		if !c.Repeat || try >= offRetries {
			return fmt.Errorf("%v still powered: %w", still, ErrPowerStuck)
		}
		c.logger().Warn("port power came back, repeating off request", "ports", fmt.Sprint(still))
		if _, err := c.switchAll(ctx, still, false); err != nil {
			return err
		}
	}
}

// poweredPorts lists the ports the hubs report as powered. A port missing
// from hubs counts as off: a hub behind a switched port vanishes.
func poweredPorts(hubs []Hub, ports []PortRef) []PortRef {
	var on []PortRef
	for _, p := range ports {
		if h, ok := findHub(hubs, p.Hub); ok {
			if s, ok := h.Port(p.Port); ok && s.Power {
				on = append(on, p)
			}
		}
	}
	return on
}

func (c *Cycler) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Logger
}

func (c *Cycler) offTime() time.Duration {
	if c.OffTime <= 0 {
		return 3 * time.Second
	}
	return c.OffTime
}

func (c *Cycler) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Cycler) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
