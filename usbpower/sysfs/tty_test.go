package sysfs

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The trees are the callers' captured testdata: the walker is tested on the
// same files discovery and the power cycle are.
var (
	mf180Tree = filepath.Join("..", "..", "modem", "testdata", "sysfs", "mf180")
	acmTree   = filepath.Join("..", "..", "modem", "testdata", "sysfs", "acm")
)

func TestListTTYs(t *testing.T) {
	got, err := ListTTYs(mf180Tree)
	if err != nil {
		t.Fatal(err)
	}
	want := []TTY{
		{Name: "ttyUSB0", Device: "1-1.2", Hub: "1-1", Port: 2, Bus: 1, HubPath: []int{1}, VID: "19d2", PID: "0031",
			Interface: 0, Class: 0xff, SubClass: 0xff, Protocol: 0xff, Driver: "option"},
		{Name: "ttyUSB1", Device: "1-1.2", Hub: "1-1", Port: 2, Bus: 1, HubPath: []int{1}, VID: "19d2", PID: "0031",
			Interface: 1, Class: 0xff, SubClass: 0xff, Protocol: 0xff, Driver: "option"},
		{Name: "ttyUSB2", Device: "1-1.2", Hub: "1-1", Port: 2, Bus: 1, HubPath: []int{1}, VID: "19d2", PID: "0031",
			Interface: 2, Class: 0xff, SubClass: 0xff, Protocol: 0xff, Driver: "option"},
	}
	if diff := cmp.Diff(want, got); diff != "" { // ttyAMA0 is not USB: left out
		t.Errorf("ListTTYs (-want +got):\n%s", diff)
	}
}

// A cdc-acm tty hangs directly under its interface, not under a port
// directory; the walker finds the interface either way.
func TestLocateTTYACM(t *testing.T) {
	got, err := LocateTTY(acmTree, "/dev/ttyACM0")
	if err != nil {
		t.Fatal(err)
	}
	if got.Device != "1-1.4" || got.Hub != "1-1" || got.Port != 4 || got.Interface != 0 || got.Driver != "cdc_acm" || got.Class != 2 {
		t.Errorf("LocateTTY(ttyACM0) = %+v", got)
	}
}

func TestLocateTTYErrors(t *testing.T) {
	for tty, want := range map[string]error{
		"ttyS0": ErrNotUSB, "ttyUSB7": ErrNotFound, "": ErrBadName, "..": ErrBadName,
		"../../etc/passwd": ErrBadName, "tty\x00USB0": ErrBadName, "/dev/": ErrBadName,
	} {
		if _, err := LocateTTY(filepath.Join("..", "testdata", "bench", "sys"), tty); !errors.Is(err, want) {
			t.Errorf("LocateTTY(%q) = %v, want %v", tty, err, want)
		}
	}
}

func TestListTTYsRootHub(t *testing.T) {
	got, err := ListTTYs(filepath.Join("..", "testdata", "pi5", "sys"))
	if err != nil || len(got) != 1 {
		t.Fatalf("ListTTYs(pi5) = %+v, %v", got, err)
	}
	if tty := got[0]; tty.Hub != "3" || tty.Port != 1 || len(tty.HubPath) != 0 || tty.Bus != 3 {
		t.Errorf("a device on a root hub port: %+v, want hub 3 port 1", tty)
	}
}

func TestCompareNames(t *testing.T) {
	got := []string{"ttyUSB10", "ttyACM1", "ttyUSB2", "ttyUSB", "ttyACM0"}
	slices.SortFunc(got, CompareNames)
	if diff := cmp.Diff([]string{"ttyACM0", "ttyACM1", "ttyUSB", "ttyUSB2", "ttyUSB10"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestParseDevice(t *testing.T) {
	tests := []struct {
		in   string
		bus  int
		path []int
		ok   bool
	}{
		{"1-1.2", 1, []int{1, 2}, true}, {"usb2", 2, []int{}, true}, {"2", 2, []int{}, true}, {"3-1", 3, []int{1}, true},
		{"1-1:1.0", 0, nil, false}, {"1-0", 0, nil, false}, {"", 0, nil, false}, {"-1", 0, nil, false},
		{"usb", 0, nil, false}, {"1-1..2", 0, nil, false}, {"0-1", 0, nil, false}, {"usb0", 0, nil, false},
	}
	for _, tt := range tests {
		bus, path, err := ParseDevice(tt.in)
		if (err == nil) != tt.ok || bus != tt.bus || !cmp.Equal(path, tt.path) {
			t.Errorf("ParseDevice(%q) = %d, %v, %v; want %d, %v, ok=%v", tt.in, bus, path, err, tt.bus, tt.path, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("ParseDevice(%q) error %v does not wrap ErrBadName", tt.in, err)
		}
		if err == nil && HubName(bus, path) != map[string]string{"usb2": "2"}[tt.in] && HubName(bus, path) != tt.in {
			t.Errorf("HubName(ParseDevice(%q)) = %q", tt.in, HubName(bus, path))
		}
	}
}

func FuzzParseDevice(f *testing.F) {
	for _, s := range []string{"1-1.2", "usb1", "2", "1-1:1.0", "", "9999-1", "1-1.1.1.1.1.1.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bus, path, err := ParseDevice(s)
		if err != nil {
			return
		}
		if bus <= 0 || slices.ContainsFunc(path, func(p int) bool { return p <= 0 }) {
			t.Fatalf("ParseDevice(%q) = %d, %v", s, bus, path)
		}
		LocateTTY(t.TempDir(), s) // garbage never panics
	})
}

// Network interfaces are walked the same way: both USB ones are listed (the
// Pi 3's smsc95xx eth0 too; telling a stick from it is discovery's job).
func TestListNets(t *testing.T) {
	got, err := ListNets(filepath.Join("..", "..", "modem", "testdata", "sysfs", "hilink"))
	if err != nil {
		t.Fatal(err)
	}
	want := []TTY{
		{Name: "eth0", Device: "1-1.1", Hub: "1-1", Port: 1, Bus: 1, HubPath: []int{1}, VID: "0424", PID: "ec00",
			Interface: 0, Class: 0xff, SubClass: 0, Protocol: 0xff, Driver: "smsc95xx"},
		{Name: "usb0", Device: "1-1.2", Hub: "1-1", Port: 2, Bus: 1, HubPath: []int{1}, VID: "12d1", PID: "14dc",
			Interface: 0, Class: 2, SubClass: 6, Protocol: 0, Driver: "cdc_ether"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListNets (-want +got):\n%s", diff)
	}
}

func TestLocateNet(t *testing.T) {
	tree := filepath.Join("..", "..", "modem", "testdata", "sysfs", "hilink-reenum")
	got, err := LocateNet(tree, "enx0c5b8f279a64")
	if err != nil || got.Device != "1-1.2" || got.Hub != "1-1" || got.Port != 2 || got.Driver != "cdc_ether" {
		t.Errorf("LocateNet = %+v, %v", got, err)
	}
	for name, want := range map[string]error{"usb0": ErrNotFound, "../x": ErrBadName, "": ErrBadName} {
		if _, err := LocateNet(tree, name); !errors.Is(err, want) {
			t.Errorf("LocateNet(%q) = %v, want %v", name, err, want)
		}
	}
}
