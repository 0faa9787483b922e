package usbpower

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeHub emulates a hub at the level of USB 2.0 chapter 11 requests, so the
// byte layout of what the controller sends and parses is checked.
type fakeHub struct {
	bus       int
	path      []int
	vidpid    string
	usb3      bool
	version   uint16 // bcdUSB; 0x0200 (or 0x0300 with usb3) when zero
	chars     uint16
	status    []uint16 // wPortStatus, index port-1
	shortDesc bool
	requests  []string
	opens     int
	closes    int
}

var errStall = errors.New("fake: request stalled")

func (h *fakeHub) power() uint16 {
	if h.usb3 {
		return StatSSPower
	}
	return StatPower
}

func (h *fakeHub) Control(rType, request uint8, val, idx uint16, data []byte) (int, error) {
	h.requests = append(h.requests, fmt.Sprintf("%02x %d %04x %d len=%d", rType, request, val, idx, len(data)))
	port := int(idx)
	switch {
	case rType == 0xA0 && request == 6 && idx == 0:
		want := uint16(0x2900)
		if h.usb3 {
			want = 0x2A00
		}
		if val != want {
			return 0, errStall
		}
		desc := []byte{9, byte(val >> 8), byte(len(h.status)), byte(h.chars), byte(h.chars >> 8), 50, 100, 0, 0xff}
		if h.shortDesc {
			desc = desc[:4]
		}
		return copy(data, desc), nil
	case rType == 0xA3 && request == 0 && val == 0 && port >= 1 && port <= len(h.status) && len(data) == 4:
		binary.LittleEndian.PutUint16(data, h.status[port-1])
		binary.LittleEndian.PutUint16(data[2:], 0)
		return 4, nil
	case rType == 0x23 && val == 8 && port >= 1 && port <= len(h.status) && data == nil:
		switch request {
		case 1: // ClearPortFeature(PORT_POWER): the device drops off
			h.status[port-1] &^= h.power() | StatConnect | StatEnable | StatHighSpeed | StatLowSpeed
			return 0, nil
		case 3:
			h.status[port-1] |= h.power()
			return 0, nil
		}
	}
	return 0, errStall
}

func (h *fakeHub) Close() error { h.closes++; return nil }

type fakeOpener struct {
	hubs []*fakeHub
	err  error
}

func (o *fakeOpener) OpenHubs(match func(int, []int) bool) ([]openHub, error) {
	var out []openHub
	for _, h := range o.hubs {
		if match != nil && !match(h.bus, h.path) {
			continue
		}
		h.opens++
		v := h.version
		switch {
		case v == 0 && h.usb3:
			v = 0x0300
		case v == 0:
			v = 0x0200
		}
		out = append(out, openHub{Bus: h.bus, Path: h.path, VIDPID: h.vidpid, USBVersion: v, Dev: h})
	}
	return out, o.err
}

func (o *fakeOpener) checkClosed(t *testing.T) {
	t.Helper()
	for _, h := range o.hubs {
		if h.opens != h.closes {
			t.Errorf("hub %s opened %d times, closed %d", hubName(h.bus, h.path), h.opens, h.closes)
		}
	}
}

// benchHubs is the VM bench: root hub usb1 with the QEMU hub on port 1, the
// FTDI serial on its port 2; the QEMU hub runs with port-power=on.
func benchHubs() *fakeOpener {
	return &fakeOpener{hubs: []*fakeHub{
		{bus: 1, path: []int{1}, vidpid: "0409:55aa", version: 0x0110, chars: 0x0009,
			status: []uint16{0x0100, 0x0103, 0x0100, 0x0100, 0x0100, 0x0100, 0x0100, 0x0100}},
		{bus: 1, path: []int{}, vidpid: "1d6b:0002", chars: 0x000a, status: []uint16{0x0103, 0x0100, 0x0100, 0x0100}},
	}}
}

func TestHubsReadsDescriptorAndStatus(t *testing.T) {
	o := benchHubs()
	c := newHubController(sysTree("bench"), nil, o, nil)
	hubs, err := c.Hubs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o.checkClosed(t)
	if len(hubs) != 2 || hubs[0].Name != "1" || hubs[1].Name != "1-1" {
		t.Fatalf("hubs = %+v", hubs)
	}
	h := hubs[1]
	if h.Ports != 8 || h.PowerSwitching != "per-port" || h.Product != "QEMU USB Hub" || h.USB3 {
		t.Errorf("hub 1-1 = %+v", h)
	}
	want := PortStatus{Port: 2, Power: true, Connect: true, Enable: true, Raw: 0x0103,
		Device: "1-1.2", VIDPID: "0403:6001", Manufacturer: "QEMU", Product: "QEMU USB SERIAL", Serial: "1-0000:00:04.0-1.2"}
	if diff := cmp.Diff(want, h.Status[1]); diff != "" {
		t.Errorf("port 2 (-want +got):\n%s", diff)
	}
	if hubs[0].PowerSwitching != "none" {
		t.Errorf("root hub switching = %q, want none", hubs[0].PowerSwitching)
	}
	// USB 2.0 11.24.2: descriptor type 0x29 in the high byte, GetPortStatus
	// to the port ("other") recipient with 4 bytes.
	if got := o.hubs[0].requests[:2]; !cmp.Equal(got, []string{"a0 6 2900 0 len=15", "a3 0 0000 1 len=4"}) {
		t.Errorf("requests = %q", got)
	}
}

func TestHubsUSB3Descriptor(t *testing.T) {
	o := &fakeOpener{hubs: []*fakeHub{{bus: 2, path: []int{}, vidpid: "1d6b:0003", usb3: true, chars: 0x0001,
		status: []uint16{0x02a0, 0x0203}}}}
	hubs, err := newHubController(sysTree("pi4"), nil, o, nil).Hubs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(hubs) != 1 || !hubs[0].USB3 || !hubs[0].Status[0].Power || !hubs[0].Status[1].SuperSpeed || hubs[0].Status[0].LowSpeed {
		t.Errorf("USB3 hub = %+v", hubs)
	}
	if o.hubs[0].requests[0] != "a0 6 2a00 0 len=12" {
		t.Errorf("USB3 descriptor request = %q", o.hubs[0].requests[0])
	}
}

func TestHubsErrors(t *testing.T) {
	openErr := errors.New("LIBUSB_ERROR_ACCESS")
	o := &fakeOpener{err: openErr}
	if _, err := newHubController("", nil, o, nil).Hubs(context.Background()); !errors.Is(err, openErr) {
		t.Errorf("Hubs with open failure = %v", err)
	}
	o = &fakeOpener{hubs: []*fakeHub{{bus: 1, path: []int{1}, shortDesc: true, status: []uint16{0}}}}
	if _, err := newHubController("", nil, o, nil).Hubs(context.Background()); err == nil {
		t.Error("Hubs with only a broken hub: no error")
	}
	o.checkClosed(t)
	// A broken hub next to a good one is skipped; a partial open error is logged.
	o = benchHubs()
	o.hubs = append(o.hubs, &fakeHub{bus: 3, path: []int{}, shortDesc: true, status: []uint16{0}})
	o.err = openErr
	hubs, err := newHubController(sysTree("bench"), nil, o, nil).Hubs(context.Background())
	if err != nil || len(hubs) != 2 {
		t.Errorf("Hubs with one broken hub = %d hubs, %v", len(hubs), err)
	}
	o.checkClosed(t)
}

func TestSetPortPowerSysfsDisable(t *testing.T) {
	for _, tc := range []struct{ tree, hub, file string }{
		{"bench", "1-1", "devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0/1-1-port2/disable"},
		{"pi4", "2", "devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb2/2-0:1.0/usb2-port2/disable"},
	} {
		sys := freshTree(t, tc.tree)
		o := benchHubs()
		c := newHubController(sys, nil, o, nil)
		file := filepath.Join(sys, tc.file)
		for _, step := range []struct {
			on   bool
			want string
		}{{false, "1"}, {true, "0"}} {
			if err := c.SetPortPower(context.Background(), tc.hub, 2, step.on); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(file); string(b) != step.want {
				t.Errorf("%s: after on=%v disable = %q, want %q", tc.tree, step.on, b, step.want)
			}
		}
		for _, h := range o.hubs {
			if len(h.requests) != 0 || h.opens != 0 {
				t.Errorf("%s: libusb used although sysfs disable exists: %q", tc.tree, h.requests)
			}
		}
	}
}

func TestSetPortPowerLibusb(t *testing.T) {
	o := benchHubs()
	c := newHubController(sysTree("pi3b"), nil, o, nil) // no disable files (kernel < 6.0)
	ctx := context.Background()
	if err := c.SetPortPower(ctx, "1-1", 2, false); err != nil {
		t.Fatal(err)
	}
	if st := o.hubs[0].status[1]; st != 0 {
		t.Errorf("port 2 status after off = %04x, want 0000", st)
	}
	if err := c.SetPortPower(ctx, "1-1", 2, true); err != nil {
		t.Fatal(err)
	}
	want := []string{"23 1 0008 2 len=0", "23 3 0008 2 len=0"}
	if diff := cmp.Diff(want, o.hubs[0].requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if len(o.hubs[1].requests) != 0 {
		t.Errorf("root hub got requests %q", o.hubs[1].requests)
	}
	o.checkClosed(t)
}

func TestSetPortPowerFallsBackWhenDisableUnwritable(t *testing.T) {
	sys := freshTree(t, "bench")
	file := filepath.Join(sys, "bus/usb/devices/1-1:1.0/1-1-port3/disable")
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(file, 0o755); err != nil { // open for writing fails
		t.Fatal(err)
	}
	o := benchHubs()
	if err := newHubController(sys, nil, o, nil).SetPortPower(context.Background(), "1-1", 3, false); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.hubs[0].requests, []string{"23 1 0008 3 len=0"}) {
		t.Errorf("requests = %q, want a ClearPortFeature fallback", o.hubs[0].requests)
	}
}

func TestSetPortPowerErrors(t *testing.T) {
	c := newHubController(sysTree("pi3b"), nil, benchHubs(), nil)
	ctx := context.Background()
	if err := c.SetPortPower(ctx, "1-3", 1, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown hub: %v, want ErrNotFound", err)
	}
	for _, in := range []struct {
		hub  string
		port int
	}{{"x", 1}, {"1-1", 0}, {"1-1", 300}, {"../1-1", 1}} {
		if err := c.SetPortPower(ctx, in.hub, in.port, false); !errors.Is(err, ErrBadName) {
			t.Errorf("SetPortPower(%q, %d) = %v, want ErrBadName", in.hub, in.port, err)
		}
	}
	if err := c.SetPortPower(ctx, "1-1", 9, false); !errors.Is(err, errStall) {
		t.Errorf("port beyond the hub: %v, want the hub's stall", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.SetPortPower(cctx, "1-1", 2, false); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

func TestFormatStatusGolden(t *testing.T) {
	o := benchHubs()
	hubs, err := newHubController(sysTree("bench"), nil, o, nil).Hubs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	FormatStatus(&buf, hubs)
	hubs = []Hub{
		{Name: "1-1", VIDPID: "0424:9514", Ports: 5, USBVersion: 0x0200, PowerSwitching: "ganged", Status: []PortStatus{
			{Port: 1, Raw: 0x0503, Device: "1-1.1", VIDPID: "0424:ec00"},
			{Port: 2, Raw: 0x0000},
			{Port: 3, Raw: 0x0100},
			{Port: 4, Raw: 0x1d1f, Device: "1-1.4", VIDPID: "046d:c52b", Manufacturer: "Logitech", Product: "USB Receiver"},
		}},
		{Name: "2", VIDPID: "1d6b:0003", Product: "xHCI Host Controller", Ports: 4, USBVersion: 0x0300, USB3: true,
			PowerSwitching: "per-port", Status: []PortStatus{
				{Port: 1, Raw: 0x02a0}, {Port: 2, Raw: 0x0203, VIDPID: "0bda:8153"}, {Port: 3, Raw: 0x0000}, {Port: 4, Raw: 0x02e0},
			}},
	}
	FormatStatus(&buf, hubs)
	golden := filepath.Join("testdata", "status.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("FormatStatus (-want +got):\n%s", diff)
	}
	if !strings.Contains(buf.String(), "Current status for hub 1-1 [0424:9514, USB 2.00, 5 ports, ganged]\n  Port 1: 0503 power highspeed enable connect [0424:ec00]\n") {
		t.Error("uhubctl's own example line differs")
	}
}

// syncDisable plays the kernel (>= 6.0) for a test tree: a device whose
// port's disable file says 1 is disconnected (its bus/usb/devices link goes),
// and comes back when it says 0.
func syncDisable(t *testing.T, sys, hub string, port int, dev string, saved *string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sys, "bus", "usb", "devices", hub+":1.0", hub+"-port"+fmt.Sprint(port), "disable"))
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(sys, "bus", "usb", "devices", dev)
	switch off := strings.TrimSpace(string(b)) == "1"; {
	case off && *saved == "":
		if *saved, err = os.Readlink(link); err != nil {
			t.Fatal(err)
		}
		os.Remove(link)
	case !off && *saved != "":
		if err := os.Symlink(*saved, link); err != nil {
			t.Fatal(err)
		}
		*saved = ""
	}
}

// Power cycling needs no libusb when the kernel's disable file does the job:
// NewGousb, which the daemon used, fails outright when libusb cannot start;
// the cycle's controller switches through sysfs, and a libusb that cannot
// start only costs it the port status bits.
func TestCycleWithoutLibusb(t *testing.T) {
	sys := freshTree(t, "bench") // kernel >= 6.0: disable files
	starts := 0
	noLibusb := func() (hubOpener, func() error, error) {
		starts++
		return nil, nil, fmt.Errorf("start libusb: no permission: %w", ErrNoUSB)
	}
	ctl := newLazyController(sys, nil, noLibusb)
	var saved string
	var disabled []string
	c := &Cycler{Ctl: ctl, SysRoot: sys, OffTime: time.Second, Sleep: func(ctx context.Context, d time.Duration) error {
		syncDisable(t, sys, "1-1", 2, "1-1.2", &saved)
		disabled = append(disabled, fmt.Sprint(saved != ""))
		return nil
	}}
	loc, err := LocateTTY(sys, "ttyUSB0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cycle(context.Background(), loc); err != nil {
		t.Fatalf("Cycle without libusb: %v", err)
	}
	if starts != 1 { // Hubs tried once, fell back to sysfs, and never again
		t.Errorf("libusb start attempts = %d, want 1", starts)
	}
	if len(disabled) == 0 || disabled[0] != "true" {
		t.Errorf("the device never left the bus: %v", disabled)
	}
	b, _ := os.ReadFile(filepath.Join(sys, "bus", "usb", "devices", "1-1:1.0", "1-1-port2", "disable"))
	if strings.TrimSpace(string(b)) != "0" {
		t.Errorf("disable file = %q after the cycle, want 0 (powered)", b)
	}
	if _, err := newLazyController(sys, nil, noLibusb).usb(); !errors.Is(err, ErrNoUSB) {
		t.Errorf("the eager path (NewGousb) would fail: %v", err)
	}
}
