package modem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/failberry/failberry/usbpower/sysfs"
)

// ErrNoNetcard is returned (wrapped, together with the context's error) when
// LocateNetcard gives up before a network-card stick appeared.
var ErrNoNetcard = errors.New("no network-card stick found")

// netcardDrivers are the USB network drivers of LTE sticks that are network
// cards with their own router behind (HiLink, ZTE, Alcatel, Quectel ECM), and
// what the kernel calls their protocol. USB Ethernet adapters have drivers of
// their own (smsc95xx, the Pi 3's eth0; lan78xx; r8152; ax88179_178a) and are
// never taken for a stick. qmi_wwan and cdc_mbim are left out: they need a
// control protocol spoken before any packet flows, which DHCP alone cannot do.
var netcardDrivers = map[string]string{
	"cdc_ether":      "CDC-ECM",
	"rndis_host":     "RNDIS",
	"cdc_ncm":        "CDC-NCM",
	"huawei_cdc_ncm": "Huawei NCM",
}

// NetCandidate is one network interface of a USB stick, as read from sysfs by
// the walker discovery and the power cycle share (usbpower/sysfs).
type NetCandidate struct {
	Name      string // kernel name now: "usb0", "eth1", "enx0c5b8f279a64", or the name failberry gave it
	Driver    string // cdc_ether, rndis_host, cdc_ncm, huawei_cdc_ncm
	Protocol  string // "CDC-ECM", "RNDIS", ...
	VID, PID  string // lower-case hex
	USBDevice string // sysfs USB device name, "1-1.2"
	Interface int    // bInterfaceNumber of the control interface the driver bound
	// Class and SubClass are the interface's bInterface codes: 02/06 ECM,
	// 02/0d NCM, e0/01 or 02/02 (vendor protocol ff) RNDIS.
	Class, SubClass int
	// HasAT says the same USB device also has a serial port that answers
	// AT (an ECM/NCM modem): an auto kind still uses the network card.
	HasAT bool
}

// NetCandidates lists the network-card sticks' interfaces under
// <sysRoot>/class/net in name order, narrowed to one vendor:product when
// usbID is set. A sysfs without class/net (a tree captured for ttys only)
// has none.
func NetCandidates(sysRoot string, usbID USBID) ([]NetCandidate, error) {
	nets, err := sysfs.ListNets(sysRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network-card sticks: %w", err)
	}
	ttys, _ := sysfs.ListTTYs(sysRoot) // only to tell which sticks also have a serial port
	want := strings.ToLower(strings.TrimSpace(string(usbID)))
	var out []NetCandidate
	for _, n := range nets {
		proto, ok := netcardDrivers[n.Driver]
		if !ok || (want != "" && n.VID+":"+n.PID != want) {
			continue
		}
		c := NetCandidate{Name: n.Name, Driver: n.Driver, Protocol: proto, VID: n.VID, PID: n.PID,
			USBDevice: n.Device, Interface: n.Interface, Class: n.Class, SubClass: n.SubClass}
		for _, t := range ttys {
			c.HasAT = c.HasAT || (t.Device == n.Device && t.Err == nil)
		}
		out = append(out, c)
	}
	return out, nil
}

// NetSelector says which network card FindNetcard may take.
type NetSelector struct {
	// USBID narrows the search to one vendor:product; empty: any stick.
	USBID USBID
	// LastDevice is the USB device a stick was last seen on ("1-1.2"): it
	// comes back there after a power cycle or a re-enumeration, under
	// another name, and is taken before any other stick.
	LastDevice string
	// UdevRoot is udev's run directory ("/run/udev"). An interface udev
	// has not finished with (no data/n<ifindex> yet) is not taken: udev
	// may still rename it (usb0 to enx...), which would pull it from under
	// failberry's own rename. Empty, or a directory that does not exist
	// (no udev): no wait.
	UdevRoot string
}

// FindNetcard makes one pass: the stick on sel.LastDevice, else the first
// one listed, once udev is done with it. ok is false when there is none.
func FindNetcard(sysRoot string, sel NetSelector) (c NetCandidate, ok bool, err error) {
	all, err := NetCandidates(sysRoot, sel.USBID)
	if err != nil {
		return NetCandidate{}, false, err
	}
	all = slices.DeleteFunc(all, func(n NetCandidate) bool { return !udevDone(sysRoot, sel.UdevRoot, n.Name) })
	if len(all) == 0 {
		return NetCandidate{}, false, nil
	}
	for _, n := range all {
		if n.USBDevice == sel.LastDevice {
			return n, true, nil
		}
	}
	return all[0], true, nil
}

// udevDone reports whether udev has processed the interface (its database
// entry n<ifindex> exists), as libudev's udev_device_get_is_initialized.
func udevDone(sysRoot, udevRoot, name string) bool {
	if udevRoot == "" {
		return true
	}
	if _, err := os.Stat(udevRoot); err != nil {
		return true // no udev on this system
	}
	index, err := os.ReadFile(filepath.Join(sysRoot, "class", "net", name, "ifindex"))
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(udevRoot, "data", "n"+strings.TrimSpace(string(index))))
	return err == nil
}

// LocateNetcard waits, polling sysfs every poll (1 s if <= 0) without
// logging, until FindNetcard finds a stick sel allows, and returns it; when
// ctx ends first, an error wrapping ErrNoNetcard and ctx.Err().
func LocateNetcard(ctx context.Context, sysRoot string, sel NetSelector, poll time.Duration) (NetCandidate, error) {
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		c, ok, err := FindNetcard(sysRoot, sel)
		if err != nil || ok {
			return c, err
		}
		select {
		case <-ctx.Done():
			return NetCandidate{}, fmt.Errorf("locate network card: %w (%w)", ErrNoNetcard, ctx.Err())
		case <-t.C:
		}
	}
}

// Link kinds (the config's modem.kind).
const (
	KindAuto    = "auto"
	KindPPP     = "ppp"
	KindNetcard = "netcard"
)

// Found is what LocateLink found: a network card (Net set) or an AT port.
type Found struct {
	Net *NetCandidate
	TTY TTYCandidate
}

// Kind is the kind of link found.
func (f Found) Kind() string {
	if f.Net != nil {
		return KindNetcard
	}
	return KindPPP
}

// LocateLink finds the stick for kind: an AT port (Locate) for ppp, a network
// card (LocateNetcard) for netcard, and for auto whichever appears first,
// the network card winning when a stick has both (its own router is faster
// than PPP over its serial port). net says which network card may be taken.
// It polls every poll and gives up when ctx ends.
func LocateLink(ctx context.Context, kind string, sel Selector, net NetSelector, sysRoot, devRoot string, probe Prober, poll time.Duration) (Found, error) {
	switch kind {
	case KindPPP:
		c, err := Locate(ctx, sel, sysRoot, devRoot, probe, poll)
		return Found{TTY: c}, err
	case KindNetcard:
		n, err := LocateNetcard(ctx, sysRoot, net, poll)
		return Found{Net: &n}, err
	}
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		n, ok, err := FindNetcard(sysRoot, net)
		if err != nil || ok {
			return Found{Net: &n}, err
		}
		c, seen, err := locateOnce(ctx, sel, sysRoot, devRoot, probe)
		if err != nil || seen == "" {
			return Found{TTY: c}, err
		}
		select {
		case <-ctx.Done():
			return Found{}, fmt.Errorf("locate modem: %w (%w); no network card either; last seen: %s", ErrNoModemPort, ctx.Err(), seen)
		case <-t.C:
		}
	}
}
