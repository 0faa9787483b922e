package usbpower

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Hub class requests, USB 2.0 section 11.24.2 (wIndex = port number).
const (
	reqTypeHubIn   = 0xA0 // device-to-host, class, device: GetHubDescriptor
	reqTypePortIn  = 0xA3 // device-to-host, class, other (port): GetPortStatus
	reqTypePortOut = 0x23 // host-to-device, class, other (port): Set/ClearPortFeature
	reqGetStatus   = 0
	reqClearFeat   = 1
	reqSetFeat     = 3
	reqGetDesc     = 6
	featPortPower  = 8
	descHub        = 0x29 // USB 2 hub descriptor
	descSSHub      = 0x2A // SuperSpeed hub descriptor
)

// hubDevice is the part of an opened *gousb.Device the controller uses; the
// adapter maps libusb errors onto this package's sentinels.
type hubDevice interface {
	Control(rType, request uint8, val, idx uint16, data []byte) (int, error)
	Close() error
}

// openHub is one opened hub with its identity from the device descriptor.
type openHub struct {
	Bus        int
	Path       []int
	VIDPID     string
	USBVersion uint16
	Dev        hubDevice
}

// hubOpener opens the hubs match accepts (nil: all). Every returned hub must
// be closed by the caller, also when an error is returned with them.
type hubOpener interface {
	OpenHubs(match func(bus int, path []int) bool) ([]openHub, error)
}

// usbStarter starts libusb and returns a hubOpener over it and the function
// that releases it; the error wraps ErrNoUSB when libusb cannot start.
type usbStarter func() (hubOpener, func() error, error)

// hubController implements Controller over the sysfs disable files and a
// hubOpener (gousb in production, a byte-level fake hub in tests) that is
// started only when needed.
type hubController struct {
	sysRoot  string
	log      *slog.Logger
	start    usbStarter
	opener   hubOpener // nil until started
	startErr error     // why libusb could not start; not retried
	closeFn  func() error
	mu       sync.Mutex // libusb handles are opened and closed per call
}

// NewController returns the Controller the power cycle uses. Switching goes
// through the kernel's sysfs "disable" file when there is one (kernel >=
// 6.0) and needs no libusb at all; libusb (gousb) is started only for what
// sysfs cannot do: hub requests on older kernels, and port status bits. When
// libusb cannot start, Hubs falls back to the topology sysfs shows
// (ReadTopology), which is all Assess and the departure check need. The
// result implements io.Closer to release libusb if it was started.
func NewController(sysRoot string, logger *slog.Logger) Controller {
	return newLazyController(sysRoot, logger, startLibusb)
}

// NewGousb returns a Controller that starts libusb now and fails (ErrNoUSB,
// never a panic) when it cannot: for `failberry usb status`, whose port
// status bits only hub requests can read.
func NewGousb(sysRoot string, logger *slog.Logger) (Controller, error) {
	c := newLazyController(sysRoot, logger, startLibusb)
	if _, err := c.usb(); err != nil {
		return nil, err
	}
	return c, nil
}

func newLazyController(sysRoot string, log *slog.Logger, start usbStarter) *hubController {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &hubController{sysRoot: sysRoot, log: log.With("component", "usbpower"), start: start}
}

// newHubController is a controller over an opener that is already started.
func newHubController(sysRoot string, log *slog.Logger, o hubOpener, closeFn func() error) *hubController {
	return newLazyController(sysRoot, log, func() (hubOpener, func() error, error) { return o, closeFn, nil })
}

// usb starts libusb on first use; c.mu must be held or the controller new.
func (c *hubController) usb() (hubOpener, error) {
	if c.opener == nil && c.startErr == nil {
		c.opener, c.closeFn, c.startErr = c.start()
	}
	return c.opener, c.startErr
}

// Close releases libusb. The controller must not be used afterwards.
func (c *hubController) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeFn == nil {
		return nil
	}
	err := c.closeFn()
	c.closeFn = nil
	return err
}

func closeAll(hubs []openHub) {
	for _, h := range hubs {
		h.Dev.Close()
	}
}

// Hubs lists every hub libusb can open, with its descriptor and port status
// (or, when libusb cannot start, the hubs sysfs shows, without status bits).
// Hubs that do not answer (permissions, a dying device) are logged and left
// out; an error is returned only when no hub could be read.
func (c *hubController) Hubs(ctx context.Context) ([]Hub, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.usb()
	if errors.Is(err, ErrNoUSB) {
		c.log.Debug("libusb unavailable, reading the topology from sysfs", "err", err)
		return ReadTopology(c.sysRoot)
	}
	if err != nil {
		return nil, err
	}
	opened, err := o.OpenHubs(nil)
	defer closeAll(opened)
	if err != nil {
		if len(opened) == 0 {
			return nil, fmt.Errorf("open USB hubs: %w", err)
		}
		c.log.Warn("some USB devices could not be opened", "err", err)
	}
	var hubs []Hub
	var errs []error
	for _, oh := range opened {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := c.readHub(oh)
		if err != nil {
			errs = append(errs, err)
			c.log.Debug("skipping hub", "hub", hubName(oh.Bus, oh.Path), "err", err)
			continue
		}
		hubs = append(hubs, h)
	}
	if len(hubs) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("read USB hubs: %w", errors.Join(errs...))
	}
	sortHubs(hubs)
	return hubs, nil
}

// readHub reads one hub's descriptor and every port's status.
func (c *hubController) readHub(oh openHub) (Hub, error) {
	name := hubName(oh.Bus, oh.Path)
	usb3 := oh.USBVersion >= 0x0300
	ports, chars, err := readHubDescriptor(oh.Dev, usb3)
	if err != nil {
		return Hub{}, fmt.Errorf("hub %s: %w", name, err)
	}
	h := Hub{Name: name, Bus: oh.Bus, Path: slices.Clone(oh.Path), VIDPID: oh.VIDPID,
		USBVersion: oh.USBVersion, USB3: usb3}
	if d, err := readDevInfo(c.sysRoot, sysfsName(oh.Bus, oh.Path)); err == nil {
		h.Manufacturer, h.Product, h.Serial = d.Manufacturer, d.Product, d.Serial
	}
	h.Ports = ports
	h.PowerSwitching = powerSwitching(chars)
	for p := 1; p <= ports; p++ {
		raw, err := getPortStatus(oh.Dev, p)
		if err != nil {
			return Hub{}, fmt.Errorf("hub %s port %d: %w", name, p, err)
		}
		st := DecodePortStatus(raw, usb3)
		st.Port = p
		fillDevice(c.sysRoot, oh.Bus, oh.Path, &st)
		h.Status = append(h.Status, st)
	}
	return h, nil
}

// readHubDescriptor sends GetHubDescriptor and returns bNbrPorts and
// wHubCharacteristics. USB 3 hubs need the SuperSpeed descriptor type.
func readHubDescriptor(d hubDevice, usb3 bool) (ports int, chars uint16, err error) {
	typ, buf := uint16(descHub), make([]byte, 15)
	if usb3 {
		typ, buf = descSSHub, make([]byte, 12)
	}
	n, err := d.Control(reqTypeHubIn, reqGetDesc, typ<<8, 0, buf)
	if err != nil {
		return 0, 0, fmt.Errorf("GetHubDescriptor: %w", err)
	}
	if n < 7 || n > len(buf) || int(buf[0]) < 7 {
		return 0, 0, fmt.Errorf("GetHubDescriptor: short or bad descriptor (%d bytes)", n)
	}
	return int(buf[2]), binary.LittleEndian.Uint16(buf[3:5]), nil
}

// powerSwitching decodes wHubCharacteristics bits 1:0.
func powerSwitching(chars uint16) string {
	switch chars & 0x3 {
	case 0:
		return "ganged"
	case 1:
		return "per-port"
	default:
		return "none"
	}
}

// getPortStatus sends GetPortStatus and returns wPortStatus.
func getPortStatus(d hubDevice, port int) (uint16, error) {
	buf := make([]byte, 4)
	n, err := d.Control(reqTypePortIn, reqGetStatus, 0, uint16(port), buf)
	if err != nil {
		return 0, fmt.Errorf("GetPortStatus: %w", err)
	}
	if n < 2 {
		return 0, fmt.Errorf("GetPortStatus: %d bytes", n)
	}
	return binary.LittleEndian.Uint16(buf), nil
}

// SetPortPower switches port power through the kernel's sysfs disable file
// when it exists (kernel >= 6.0: the kernel disconnects the child first and
// keeps its view consistent), else with Set/ClearPortFeature(PORT_POWER).
func (c *hubController) SetPortPower(ctx context.Context, hub string, port int, on bool) error {
	bus, path, err := ParseDevice(hub)
	if err != nil || port < 1 || port > 255 {
		return fmt.Errorf("set power %s port %d: %w", hub, port, ErrBadName)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	used, err := setPowerSysfs(c.sysRoot, bus, path, port, on)
	if used {
		c.log.Info("port power switched", "hub", hubName(bus, path), "port", port, "on", on, "via", "sysfs")
		return nil
	}
	if err != nil {
		c.log.Warn("sysfs port disable failed, falling back to libusb",
			"hub", hubName(bus, path), "port", port, "err", err)
	}
	return c.setPowerUSB(bus, path, port, on)
}

// setPowerSysfs writes "1" (off) or "0" (on) into the port's disable file.
// used is false when there is no such file or writing failed (err says why),
// so the caller falls back to libusb.
func setPowerSysfs(sysRoot string, bus int, path []int, port int, on bool) (used bool, err error) {
	cfg := 1
	if d, err := readDevInfo(sysRoot, sysfsName(bus, path)); err == nil {
		cfg = d.Config
	}
	file := filepath.Join(portDir(sysRoot, bus, path, cfg, port), "disable")
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open %s: %w", file, err)
	}
	val := "1"
	if on {
		val = "0"
	}
	_, werr := f.WriteString(val)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return false, fmt.Errorf("write %s to %s: %w", val, file, err)
	}
	return true, nil
}

// setPowerUSB sends SetPortFeature / ClearPortFeature(PORT_POWER) to the hub.
func (c *hubController) setPowerUSB(bus int, path []int, port int, on bool) error {
	name := hubName(bus, path)
	o, err := c.usb()
	if err != nil {
		return fmt.Errorf("hub %s port %d: no sysfs disable file, and %w", name, port, err)
	}
	opened, err := o.OpenHubs(func(b int, p []int) bool { return b == bus && slices.Equal(p, path) })
	defer closeAll(opened)
	if len(opened) == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return fmt.Errorf("open hub %s: %w", name, err)
	}
	req, word := uint8(reqClearFeat), "ClearPortFeature"
	if on {
		req, word = reqSetFeat, "SetPortFeature"
	}
	if _, err := opened[0].Dev.Control(reqTypePortOut, req, featPortPower, uint16(port), nil); err != nil {
		return fmt.Errorf("hub %s port %d: %s(PORT_POWER): %w", name, port, word, err)
	}
	c.log.Info("port power switched", "hub", name, "port", port, "on", on, "via", "libusb")
	return nil
}
