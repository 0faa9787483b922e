package usbpower

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
	// power again after it: drivers re-power ports on kernels before 6.0
	// (uhubctl FAQ "Power comes back on after few seconds"; mvp/uhubctl#180
	// on a 3B+).
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

// offRetries bounds the re-sent off requests; offSettle is the pause between
// checks of the bus (uhubctl waits 20 ms between repeats; USB 3 hubs need
// ~150 ms to actually drop power); minDepartureWait is how long a device
// may take to leave the bus before the cycle counts as failed, when OffTime
// is shorter.
const (
	offRetries       = 3
	offSettle        = 200 * time.Millisecond
	minDepartureWait = time.Second
)

// Cycle switches off the ports that cut loc's power on this board (Assess:
// on ganged Pi boards that is not loc's port itself), waits until the device
// has really left the bus, waits the rest of OffTime, and switches them on
// again. A cycle counts as done only when the kernel saw the device go (its
// node under <SysRoot>/bus/usb/devices vanished, or without SysRoot the hub
// reports the port disconnected): a hub's "off" status bit is not trusted.
// When the device stays, the cycle fails with ErrStayedOnBus. With Repeat,
// off requests are re-sent to ports that report power again. It refuses
// (ErrUnsafe) before switching anything that would cut the Pi's Ethernet.
// Once a port is off it is always switched on again, even when ctx is
// cancelled or the check fails.
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
	dev := loc.Device
	if dev == "" { // a configured hub and port: whatever is attached there
		dev = ref(hubs, loc.Hub, loc.Port).Device
	}
	if len(im.Affected) > 0 {
		log.Warn("ganged ports lose power too", "hub", loc.Hub, "port", loc.Port, "affected", fmt.Sprint(im.Affected))
	}
	start := c.now()
	switched, offErr := c.switchAll(ctx, im.Switch, false)
	if offErr == nil {
		offErr = c.awaitDeparture(ctx, board, im.Switch, dev, start)
	}
	if offErr == nil { // the wait for the departure already counts towards OffTime
		offErr = c.sleep(ctx, max(0, c.offTime()-c.now().Sub(start)))
	}
	onCtx := context.WithoutCancel(ctx) // never leave the modem unpowered
	onStart := c.now()
	_, onErr := c.switchAll(onCtx, switched, true)
	t := Timing{Off: onStart.Sub(start), On: c.now().Sub(onStart)}
	if err := errors.Join(offErr, onErr); err != nil {
		return t, fmt.Errorf("power cycle %s port %d: %w", loc.Hub, loc.Port, err)
	}
	log.Info("port power cycled", "hub", loc.Hub, "port", loc.Port, "switched", fmt.Sprint(im.Switch),
		"off", t.Off, "on", t.On)
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

// awaitDeparture polls until dev has left the bus, for OffTime (at least
// minDepartureWait); with Repeat it re-sends the off request to switched
// ports that report power again. Nothing attached (dev == "") cannot leave:
// the cycle goes on unverified, since re-powering an empty port is how a
// modem that fell off the bus is brought back.
func (c *Cycler) awaitDeparture(ctx context.Context, board Board, ports []PortRef, dev string, start time.Time) error {
	if dev == "" {
		c.logger().Warn("no device on the port: cannot check that its power was cut", "ports", fmt.Sprint(ports))
		return nil
	}
	wait := max(c.offTime(), minDepartureWait)
	for repeats := 0; ; {
		if err := c.sleep(ctx, offSettle); err != nil {
			return err
		}
		hubs, err := c.Ctl.Hubs(ctx)
		if err != nil {
			return fmt.Errorf("check the modem left the bus: %w", err)
		}
		if c.departed(hubs, dev) {
			return nil
		}
		if still := poweredPorts(hubs, ports); c.Repeat && len(still) > 0 && repeats < offRetries {
			repeats++
			c.logger().Warn("port power came back, repeating off request", "ports", fmt.Sprint(still))
			if _, err := c.switchAll(ctx, still, false); err != nil {
				return err
			}
			continue
		}
		if c.now().Sub(start) >= wait {
			return fmt.Errorf("port powered off but the modem (%s) stayed on the bus: ganged or non-switchable hub; %s: %w",
				dev, board.Kind.hint(), ErrStayedOnBus)
		}
	}
}

// departed reports whether the device dev has left the bus: its sysfs node
// is gone (the kernel saw the disconnect), or, without a sysfs root, its
// hub reports nothing connected on its port (a hub that vanished counts).
func (c *Cycler) departed(hubs []Hub, dev string) bool {
	if c.SysRoot != "" {
		_, err := os.Lstat(filepath.Join(c.SysRoot, "bus", "usb", "devices", dev))
		return errors.Is(err, os.ErrNotExist)
	}
	bus, path, err := ParseDevice(dev)
	if err != nil || len(path) == 0 {
		return false
	}
	h, ok := findHub(hubs, hubName(bus, path[:len(path)-1]))
	if !ok {
		return true
	}
	s, ok := h.Port(path[len(path)-1])
	return !ok || !s.Connect
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
