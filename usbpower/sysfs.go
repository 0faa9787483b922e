package usbpower

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/failberry/failberry/usbpower/sysfs"
)

// ParseDevice splits a USB device name into bus and port path (gousb's
// DeviceDesc.Bus and Path); see sysfs.ParseDevice.
func ParseDevice(name string) (bus int, path []int, err error) { return sysfs.ParseDevice(name) }

// hubName is the uhubctl-style location of a hub: "1-1.3", or "2" for a root hub.
func hubName(bus int, path []int) string { return sysfs.HubName(bus, path) }

// sysfsName is the kernel's name for a device: "1-1.3", or "usb2" for a root hub.
func sysfsName(bus int, path []int) string {
	if len(path) == 0 {
		return "usb" + strconv.Itoa(bus)
	}
	return hubName(bus, path)
}

// childName is the name of the device on port of the hub at bus/path.
func childName(bus int, path []int, port int) string {
	return sysfs.HubName(bus, append(slices.Clone(path), port))
}

// portDir is the kernel's directory for a hub port (kernel >= 6.0 has a
// "disable" file there): <sysRoot>/bus/usb/devices/1-1:1.0/1-1-port2, or
// usb2-0:1.0/usb2-port1 for a root hub. cfg is the hub's active configuration.
func portDir(sysRoot string, bus int, path []int, cfg, port int) string {
	iface := hubName(bus, path)
	if len(path) == 0 {
		iface = strconv.Itoa(bus) + "-0"
	}
	iface += ":" + strconv.Itoa(cfg) + ".0"
	return filepath.Join(sysRoot, "bus", "usb", "devices", iface,
		sysfsName(bus, path)+"-port"+strconv.Itoa(port))
}

// readAttr reads one sysfs attribute, trimmed of whitespace and NULs.
func readAttr(dir, name string) (string, error) { return sysfs.ReadAttr(dir, name) }

// attr reads an attribute and returns "" when it is missing or unreadable:
// sysfs omits string attributes the device does not have.
func attr(dir, name string) string {
	s, _ := readAttr(dir, name)
	return s
}

// devInfo is what sysfs says about one USB device.
type devInfo struct {
	Name                          string // sysfs name, "1-1.2" or "usb1"
	VIDPID                        string // "0403:6001"
	Manufacturer, Product, Serial string
	Hub                           bool
	Ports                         int    // maxchild, hubs only
	USBVersion                    uint16 // bcdUSB, 0x0200
	Config                        int    // bConfigurationValue, 1 when unknown
}

// readDevInfo reads a device's identity from <sysRoot>/bus/usb/devices/<name>.
func readDevInfo(sysRoot, name string) (devInfo, error) {
	dir := filepath.Join(sysRoot, "bus", "usb", "devices", name)
	vid, err := readAttr(dir, "idVendor")
	if err != nil {
		return devInfo{}, fmt.Errorf("read USB device %s: %w", name, err)
	}
	d := devInfo{
		Name:         name,
		VIDPID:       strings.ToLower(vid + ":" + attr(dir, "idProduct")),
		Manufacturer: attr(dir, "manufacturer"),
		Product:      attr(dir, "product"),
		Serial:       attr(dir, "serial"),
		Hub:          attr(dir, "bDeviceClass") == "09",
		USBVersion:   parseBCD(attr(dir, "version")),
		Config:       1,
	}
	d.Ports, _ = strconv.Atoi(attr(dir, "maxchild"))
	if c, err := strconv.Atoi(attr(dir, "bConfigurationValue")); err == nil && c > 0 {
		d.Config = c
	}
	return d, nil
}

// parseBCD turns sysfs' "version" (" 2.00", "3.10") into bcdUSB (0x0200, 0x0310).
func parseBCD(s string) uint16 {
	maj, min, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return 0
	}
	a, err1 := strconv.ParseUint(maj, 16, 8)
	b, err2 := strconv.ParseUint(min, 16, 8)
	if err1 != nil || err2 != nil {
		return 0
	}
	return uint16(a<<8 | b)
}

// ReadTopology lists the hubs under <sysRoot>/bus/usb/devices with the devices
// attached to their ports, from sysfs alone: it needs no libusb and sends no
// USB traffic, so it works while the modem hangs. Port status bits are not
// in sysfs: PortStatus.Raw stays 0 and only Connect and the device fields are
// set. Assess and CheckSafe need no more than this.
func ReadTopology(sysRoot string) ([]Hub, error) {
	entries, err := os.ReadDir(filepath.Join(sysRoot, "bus", "usb", "devices"))
	if err != nil {
		return nil, fmt.Errorf("read USB topology: %w", err)
	}
	var hubs []Hub
	for _, e := range entries {
		bus, path, err := ParseDevice(e.Name())
		if err != nil || sysfsName(bus, path) != e.Name() {
			continue // an interface ("1-1:1.0") or not a device
		}
		d, err := readDevInfo(sysRoot, e.Name())
		if err != nil || !d.Hub {
			continue
		}
		h := hubFromInfo(bus, path, d)
		for p := 1; p <= d.Ports; p++ {
			st := PortStatus{Port: p}
			st.Connect = fillDevice(sysRoot, bus, path, &st)
			h.Status = append(h.Status, st)
		}
		hubs = append(hubs, h)
	}
	sortHubs(hubs)
	return hubs, nil
}

// hubFromInfo fills a Hub's identity from sysfs.
func hubFromInfo(bus int, path []int, d devInfo) Hub {
	return Hub{
		Name: hubName(bus, path), Bus: bus, Path: path,
		VIDPID: d.VIDPID, Manufacturer: d.Manufacturer, Product: d.Product, Serial: d.Serial,
		Ports: d.Ports, USBVersion: d.USBVersion, USB3: d.USBVersion >= 0x0300,
	}
}

// fillDevice adds the identity of the device on st.Port of the hub at
// bus/path to st, from sysfs, and reports whether a device is attached there.
func fillDevice(sysRoot string, bus int, path []int, st *PortStatus) bool {
	name := childName(bus, path, st.Port)
	d, err := readDevInfo(sysRoot, name)
	if err != nil {
		return false
	}
	st.Device, st.VIDPID = name, d.VIDPID
	st.Manufacturer, st.Product, st.Serial = d.Manufacturer, d.Product, d.Serial
	return true
}

// sortHubs orders hubs by bus, then port path, as lsusb -t does.
func sortHubs(hubs []Hub) {
	sort.Slice(hubs, func(i, j int) bool {
		a, b := hubs[i], hubs[j]
		if a.Bus != b.Bus {
			return a.Bus < b.Bus
		}
		for k := 0; k < len(a.Path) && k < len(b.Path); k++ {
			if a.Path[k] != b.Path[k] {
				return a.Path[k] < b.Path[k]
			}
		}
		return len(a.Path) < len(b.Path)
	})
}
