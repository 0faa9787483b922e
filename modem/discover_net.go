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
	// ATPort is the kernel name ("ttyUSB0") of the same USB device's port
	// that takes AT commands (an ECM/NCM modem), by the same rule as PPP's
	// discovery (atPortOf); empty when it has none (HiLink). An auto kind
	// still uses the network card, and the AT port for status and resets.
	ATPort string
	// Cellular says sysfs shows the interface is a cellular stick's, not a
	// USB Ethernet adapter's that binds the same driver; Why says which
	// evidence decided (cellularEvidence). Only cellular ones are taken
	// under modem.kind auto.
	Cellular bool
	Why      string
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
	ttys, _ := Candidates(sysRoot, "") // only to find the sticks' AT ports
	want := strings.ToLower(strings.TrimSpace(string(usbID)))
	var out []NetCandidate
	for _, n := range nets {
		proto, ok := netcardDrivers[n.Driver]
		if !ok || (want != "" && n.VID+":"+n.PID != want) {
			continue
		}
		c := NetCandidate{Name: n.Name, Driver: n.Driver, Protocol: proto, VID: n.VID, PID: n.PID,
			USBDevice: n.Device, Interface: n.Interface, Class: n.Class, SubClass: n.SubClass}
		c.ATPort = atPortOf(ttys, n.Device)
		c.Cellular, c.Why = cellularEvidence(sysRoot, n, c.ATPort)
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
	// CellularOnly (modem.kind auto) takes only interfaces that sysfs shows
	// to be a cellular stick's (NetCandidate.Cellular): a USB Ethernet
	// adapter on cdc_ether is left alone. modem.kind netcard takes any,
	// cellular ones first.
	CellularOnly bool
}

// ForKind is s for a link of kind: auto takes only cellular sticks.
func (s NetSelector) ForKind(kind string) NetSelector {
	s.CellularOnly = kind == KindAuto
	return s
}

// FindNetcard makes one pass: the stick on sel.LastDevice, else the first
// one listed, once udev is done with it. ok is false when there is none.
func FindNetcard(sysRoot string, sel NetSelector) (c NetCandidate, ok bool, err error) {
	all, err := NetCandidates(sysRoot, sel.USBID)
	if err != nil {
		return NetCandidate{}, false, err
	}
	all = slices.DeleteFunc(all, func(n NetCandidate) bool {
		return (sel.CellularOnly && !n.Cellular) || !udevDone(sysRoot, sel.UdevRoot, n.Name)
	})
	if len(all) == 0 {
		return NetCandidate{}, false, nil
	}
	for _, n := range all {
		if n.USBDevice == sel.LastDevice {
			return n, true, nil
		}
	}
	slices.SortStableFunc(all, func(a, b NetCandidate) int { return boolRank(a.Cellular) - boolRank(b.Cellular) })
	return all[0], true, nil
}

func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}

// atPortOf is the name of the port of USB device dev that takes AT, best
// first by the rank PPP's discovery uses (a modem port before a secondary AT
// port before one nothing is known about), never a diagnostics, GPS or aux
// port; "" when dev has none.
func atPortOf(ttys []TTYCandidate, dev string) string {
	best := ""
	rank := 99
	for _, t := range ttys {
		if t.USBDevice != dev || t.VID == "" || t.Interface < 0 || t.Diagnostic ||
			t.Role == RoleNMEA || t.Role == RoleAux {
			continue
		}
		if r := portRank(t); r < rank {
			best, rank = t.Name, r
		}
	}
	return best
}

// modemMakers are USB vendors of cellular modems and sticks that sell no
// USB Ethernet adapters, so a cdc_ether/rndis_host/cdc_ncm interface of
// theirs is a stick's. Vendors that make both (Realtek 0bda, ASIX 0b95,
// D-Link 2001, Lenovo 17ef, Dell 413c, Samsung 04e8) are left out on purpose:
// their sticks need modem.kind netcard.
var modemMakers = map[string]string{
	"12d1": "Huawei", "19d2": "ZTE", "1bbb": "Alcatel (TCL)", "2c7c": "Quectel",
	"05c6": "Qualcomm", "1199": "Sierra Wireless", "1e0e": "SIMCom", "2cb7": "Fibocom",
	"1508": "Fibocom", "1bc7": "Telit", "1410": "Novatel", "1546": "u-blox",
	"1e2d": "Cinterion", "2dee": "MeiG", "1782": "Unisoc", "0bdb": "Ericsson",
}

// cellularEvidence decides whether the USB network interface n is a
// cellular stick's and says why. The drivers alone cannot tell: cdc_ether
// and rndis_host also drive USB Ethernet adapters (an RTL8153 without r8152,
// docks, a Pi Zero gadget), and cdc_ether gives DEVTYPE=wwan only to the
// models its table lists (not to a HiLink E3372, class 02/06/00). Any one of
// these is evidence: the kernel's DEVTYPE=wwan; an AT port on the same USB
// device (what ModemManager needs to call a device a modem); a vendor that
// makes modems only; RNDIS under the wireless-controller class e0/01/03,
// which phones and LTE sticks use and Ethernet adapters do not.
func cellularEvidence(sysRoot string, n sysfs.TTY, atPort string) (bool, string) {
	if ue, err := os.ReadFile(filepath.Join(sysRoot, "class", "net", n.Name, "uevent")); err == nil &&
		slices.Contains(strings.Fields(string(ue)), "DEVTYPE=wwan") {
		return true, "the kernel calls it a WWAN device (DEVTYPE=wwan)"
	}
	if atPort != "" {
		return true, "its USB device has an AT port, " + atPort
	}
	if maker, ok := modemMakers[n.VID]; ok {
		return true, fmt.Sprintf("USB vendor %s is %s, a modem maker", n.VID, maker)
	}
	if n.Driver == "rndis_host" && n.Class == 0xe0 && n.SubClass == 0x01 && n.Protocol == 0x03 {
		return true, "wireless RNDIS (class e0/01/03), as phones and LTE sticks use"
	}
	return false, fmt.Sprintf("%s (%s:%s, %s) looks like a USB Ethernet adapter: no WWAN type, no AT port, "+
		"vendor not a modem maker; for a stick set modem.kind netcard and modem.usb_id", n.Name, n.VID, n.PID, n.Driver)
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
	net = net.ForKind(KindAuto)
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
