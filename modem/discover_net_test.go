package modem

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNetCandidates(t *testing.T) {
	tests := []struct {
		tree  string
		usbID USBID
		want  []NetCandidate
	}{
		// The Pi 3's eth0 is on USB too (smsc95xx): never a stick.
		{"hilink", "", []NetCandidate{{Name: "usb0", Driver: "cdc_ether", Protocol: "CDC-ECM", VID: "12d1", PID: "14dc",
			USBDevice: "1-1.2", Interface: 0, Class: 2, SubClass: 6, Cellular: true, Why: "USB vendor 12d1 is Huawei, a modem maker"}}},
		{"hilink-reenum", "", []NetCandidate{{Name: "enx0c5b8f279a64", Driver: "cdc_ether", Protocol: "CDC-ECM", VID: "12d1", PID: "14dc",
			USBDevice: "1-1.2", Interface: 0, Class: 2, SubClass: 6, Cellular: true, Why: "USB vendor 12d1 is Huawei, a modem maker"}}},
		// The AT port is the modem port (interface 0), by PPP's rule, not the PCUI.
		{"ncm-at", "", []NetCandidate{{Name: "wwan0", Driver: "huawei_cdc_ncm", Protocol: "Huawei NCM", VID: "12d1", PID: "15c1",
			USBDevice: "1-1.3", Interface: 1, Class: 2, SubClass: 0x0d, ATPort: "ttyUSB0", Cellular: true,
			Why: "its USB device has an AT port, ttyUSB0"}}},
		// A USB Ethernet adapter on cdc_ether is listed, but not cellular.
		{"ethernet", "", []NetCandidate{{Name: "eth1", Driver: "cdc_ether", Protocol: "CDC-ECM", VID: "0bda", PID: "8153",
			USBDevice: "1-1.2", Interface: 0, Class: 2, SubClass: 6,
			Why: "eth1 (0bda:8153, cdc_ether) looks like a USB Ethernet adapter: no WWAN type, no AT port, vendor not a modem maker; for a stick set modem.kind netcard and modem.usb_id"}}},
		{"hilink", "12d1:1506", nil}, // narrowed to another model
		{"mf180", "", nil},           // no class/net at all
	}
	for _, tt := range tests {
		got, err := NetCandidates(filepath.Join("testdata", "sysfs", tt.tree), tt.usbID)
		if err != nil {
			t.Fatalf("%s: %v", tt.tree, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("NetCandidates(%s, %q) (-want +got):\n%s", tt.tree, tt.usbID, diff)
		}
	}
}

// Under modem.kind auto a USB Ethernet adapter is never the cellular link;
// modem.kind netcard takes it when it is the only one, and a cellular stick
// before it otherwise.
func TestNetcardAdapterNotTakenForAStick(t *testing.T) {
	eth := filepath.Join("testdata", "sysfs", "ethernet")
	if c, ok, err := FindNetcard(eth, NetSelector{}.ForKind(KindAuto)); ok || err != nil {
		t.Errorf("auto with only a USB Ethernet adapter took %+v (%v)", c, err)
	}
	if c, ok, err := FindNetcard(eth, NetSelector{}.ForKind(KindNetcard)); !ok || err != nil || c.Name != "eth1" {
		t.Errorf("netcard with only the adapter = %+v, %v, %v; want eth1", c, ok, err)
	}
	both := filepath.Join("testdata", "sysfs", "adapter-and-phone")
	for _, kind := range []string{KindAuto, KindNetcard} {
		c, ok, err := FindNetcard(both, NetSelector{}.ForKind(kind))
		if !ok || err != nil || c.Name != "usb0" || !c.Cellular || c.Why != "wireless RNDIS (class e0/01/03), as phones and LTE sticks use" {
			t.Errorf("%s beside an adapter = %+v, %v, %v; want the phone's usb0", kind, c, ok, err)
		}
	}
	// auto waits for a stick rather than take the adapter.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if f, err := LocateLink(ctx, KindAuto, Selector{Interface: -1}, NetSelector{}, eth, t.TempDir(), nil, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("LocateLink auto with only an adapter = %+v, %v; want nothing until the deadline", f, err)
	}
	// The kernel's word is enough: the same adapter marked DEVTYPE=wwan.
	sys := copySysfsTree(t, "ethernet")
	if err := os.WriteFile(filepath.Join(sys, "class", "net", "eth1", "uevent"), []byte("DEVTYPE=wwan\nINTERFACE=eth1\nIFINDEX=4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, ok, _ := FindNetcard(sys, NetSelector{}.ForKind(KindAuto)); !ok || c.Why != "the kernel calls it a WWAN device (DEVTYPE=wwan)" {
		t.Errorf("auto with a DEVTYPE=wwan interface = %+v, %v", c, ok)
	}
}

func TestLocateLinkKinds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	yes := func(context.Context, string) bool { return true }
	ncm := filepath.Join("testdata", "sysfs", "ncm-at")
	dev := fakeDevDir(t, "ttyUSB0", "ttyUSB1")
	// auto takes the network card of a stick that has both.
	f, err := LocateLink(ctx, KindAuto, Selector{Interface: -1}, NetSelector{}, ncm, dev, yes, 10*time.Millisecond)
	if err != nil || f.Kind() != KindNetcard || f.Net.Name != "wwan0" {
		t.Errorf("auto on an NCM stick with AT ports = %+v, %v; want the network card", f, err)
	}
	// ppp asked for: its AT port, though it has a network card.
	f, err = LocateLink(ctx, KindPPP, Selector{Interface: -1}, NetSelector{}, ncm, dev, yes, 10*time.Millisecond)
	if err != nil || f.Kind() != KindPPP || f.TTY.Name != "ttyUSB0" {
		t.Errorf("ppp on an NCM stick = %+v, %v; want ttyUSB0", f, err)
	}
	// auto on a PPP-only modem: its AT port.
	mf := filepath.Join("testdata", "sysfs", "mf180")
	f, err = LocateLink(ctx, KindAuto, Selector{Interface: -1}, NetSelector{}, mf, fakeDevDir(t, "ttyUSB2"), yes, 10*time.Millisecond)
	if err != nil || f.Kind() != KindPPP || f.TTY.Name != "ttyUSB2" {
		t.Errorf("auto on the MF180 = %+v, %v; want ttyUSB2", f, err)
	}
	// netcard on a PPP-only modem: nothing, until the deadline.
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := LocateLink(short, KindNetcard, Selector{Interface: -1}, NetSelector{}, mf, dev, yes, 10*time.Millisecond); !errors.Is(err, ErrNoNetcard) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("netcard on the MF180: %v, want ErrNoNetcard and the deadline", err)
	}
}

// After a power cycle the stick comes back under another name on the same
// USB device: found there, and preferred over another stick.
func TestFindNetcardAfterReenumeration(t *testing.T) {
	sys := copySysfsTree(t, "hilink-reenum")
	c, ok, err := FindNetcard(sys, NetSelector{LastDevice: "1-1.2"})
	if err != nil || !ok || c.Name != "enx0c5b8f279a64" || c.USBDevice != "1-1.2" {
		t.Errorf("FindNetcard after re-enumeration = %+v, %v, %v", c, ok, err)
	}
}

// Where udev runs, a stick's interface is taken only once udev is done
// with it (it may still be renaming it).
func TestFindNetcardWaitsForUdev(t *testing.T) {
	sys := copySysfsTree(t, "hilink-reenum")
	udev := filepath.Join(t.TempDir(), "udev")
	if err := os.MkdirAll(filepath.Join(udev, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	sel := NetSelector{UdevRoot: udev}
	if c, ok, err := FindNetcard(sys, sel); ok || err != nil {
		t.Fatalf("FindNetcard before udev is done = %+v, %v, %v; want none yet", c, ok, err)
	}
	if err := os.WriteFile(filepath.Join(udev, "data", "n3"), nil, 0o644); err != nil { // ifindex 3
		t.Fatal(err)
	}
	if c, ok, err := FindNetcard(sys, sel); !ok || err != nil || c.Name != "enx0c5b8f279a64" {
		t.Fatalf("FindNetcard once udev is done = %+v, %v, %v", c, ok, err)
	}
	// No udev at all: nothing to wait for.
	if _, ok, _ := FindNetcard(sys, NetSelector{UdevRoot: filepath.Join(t.TempDir(), "none")}); !ok {
		t.Error("without udev the stick is not found")
	}
}
