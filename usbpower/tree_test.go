package usbpower

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The sysfs trees in testdata/ are written by this builder: real kernel
// layout (devices/... with relative symlinks from class/tty and
// bus/usb/devices), keeping only the files the package reads. Regenerate with
//
//	go test ./usbpower -run TestTreesUpToDate -update
//
// Two kinds of tree. The first five (bench, pi3b, pi3bplus, pi4, pi5) were
// generated from the same model of the boards the code was written from, so
// they cannot show that model wrong; they test the code's plumbing. The
// "-published" trees are reconstructed from listings users published
// (uhubctl output naming hubs, ports, VID:PIDs and kernels), each with its
// source in the tree's SOURCE file; they are what the board tests lean on.
var update = flag.Bool("update", false, "rewrite testdata trees and golden files")

type tIface struct {
	num   int
	class string // bInterfaceClass
	tty   string // "ttyUSB0" (usb-serial layout) or "ttyACM0" (cdc-acm layout); "" none
}

type tDev struct {
	name                 string // "usb1", "1-1", "1-1.2"
	vidpid               string
	mfr, product, serial string
	version              string // sysfs "version", " 2.00"
	hubPorts             int    // > 0: a hub with this many ports
	ifaces               []tIface
}

type tTree struct {
	name    string            // testdata/<name>/sys
	model   string            // devicetree model; "" none
	prefix  map[string]string // bus number -> host controller dir under devices/
	disable bool              // kernel >= 6.0: port "disable" files exist
	devs    []tDev
	serial  bool   // add a non-USB ttyS0
	source  string // published listing the tree is reconstructed from; "" generated
}

func root(name, vidpid, product, version string, ports int) tDev {
	return tDev{name: name, vidpid: vidpid, mfr: "Linux 6.1.0 xhci-hcd", product: product, version: version, hubPorts: ports}
}

func ttys(names ...string) []tIface {
	var out []tIface
	for i, n := range names {
		out = append(out, tIface{num: i, class: "ff", tty: n})
	}
	return out
}

var trees = []tTree{
	{
		name:    "bench",
		prefix:  map[string]string{"1": "devices/pci0000:00/0000:00:04.0"},
		disable: true, serial: true,
		devs: []tDev{
			root("usb1", "1d6b:0002", "xHCI Host Controller", " 2.00", 4),
			{name: "1-1", vidpid: "0409:55aa", mfr: "QEMU", product: "QEMU USB Hub", serial: "314159-0000:00:04.0-1", version: " 1.10", hubPorts: 8},
			{name: "1-1.2", vidpid: "0403:6001", mfr: "QEMU", product: "QEMU USB SERIAL", serial: "1-0000:00:04.0-1.2", version: " 1.10", ifaces: ttys("ttyUSB0")},
		},
	},
	{
		name:   "pi3b",
		model:  "Raspberry Pi 3 Model B Rev 1.2",
		prefix: map[string]string{"1": "devices/platform/soc/3f980000.usb"},
		devs: []tDev{
			root("usb1", "1d6b:0002", "DWC OTG Controller", " 2.00", 1),
			{name: "1-1", vidpid: "0424:9514", version: " 2.00", hubPorts: 5},
			{name: "1-1.1", vidpid: "0424:ec00", version: " 2.00", ifaces: []tIface{{num: 0, class: "ff"}}},
			{name: "1-1.2", vidpid: "19d2:0031", mfr: "ZTE,Incorporated", product: "ZTE WCDMA Technologies MSM", serial: "MF1800ZTED010000", version: " 2.00",
				ifaces: ttys("ttyUSB0", "ttyUSB1", "ttyUSB2")},
			{name: "1-1.4", vidpid: "046d:c52b", mfr: "Logitech", product: "USB Receiver", version: " 2.00", ifaces: []tIface{{num: 0, class: "03"}}},
		},
	},
	{
		name:   "pi3bplus",
		model:  "Raspberry Pi 3 Model B Plus Rev 1.3",
		prefix: map[string]string{"1": "devices/platform/soc/3f980000.usb"},
		devs: []tDev{
			root("usb1", "1d6b:0002", "DWC OTG Controller", " 2.00", 1),
			{name: "1-1", vidpid: "0424:2514", version: " 2.00", hubPorts: 4},
			{name: "1-1.1", vidpid: "0424:2514", version: " 2.00", hubPorts: 3},
			{name: "1-1.1.1", vidpid: "0424:7800", version: " 2.10", ifaces: []tIface{{num: 0, class: "ff"}}},
			{name: "1-1.3", vidpid: "12d1:1506", mfr: "Huawei Technologies", product: "HUAWEI Mobile", version: " 2.00",
				ifaces: ttys("ttyUSB0", "ttyUSB1", "ttyUSB2")},
		},
	},
	{
		name:    "pi4",
		model:   "Raspberry Pi 4 Model B Rev 1.4",
		prefix:  map[string]string{"1": "devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0", "2": "devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0"},
		disable: true,
		devs: []tDev{
			root("usb1", "1d6b:0002", "xHCI Host Controller", " 2.00", 1),
			{name: "1-1", vidpid: "2109:3431", product: "USB2.0 Hub", version: " 2.10", hubPorts: 4},
			{name: "1-1.4", vidpid: "19d2:0031", mfr: "ZTE,Incorporated", product: "ZTE WCDMA Technologies MSM", version: " 2.00",
				ifaces: ttys("ttyUSB0", "ttyUSB1", "ttyUSB2")},
			root("usb2", "1d6b:0003", "xHCI Host Controller", " 3.00", 4),
		},
	},
	{
		name:  "pi5",
		model: "Raspberry Pi 5 Model B Rev 1.0",
		prefix: map[string]string{
			"1": "devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0",
			"2": "devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0",
			"3": "devices/platform/axi/1000120000.pcie/1f00300000.usb/xhci-hcd.1",
			"4": "devices/platform/axi/1000120000.pcie/1f00300000.usb/xhci-hcd.1",
		},
		disable: true,
		devs: []tDev{
			root("usb1", "1d6b:0002", "xHCI Host Controller", " 2.00", 2),
			root("usb2", "1d6b:0003", "xHCI Host Controller", " 3.00", 1),
			root("usb3", "1d6b:0002", "xHCI Host Controller", " 2.00", 2),
			root("usb4", "1d6b:0003", "xHCI Host Controller", " 3.00", 1),
			{name: "3-1", vidpid: "2c7c:0125", mfr: "Quectel", product: "EG25-G", version: " 2.00",
				ifaces: []tIface{{num: 0, class: "02", tty: "ttyACM0"}, {num: 1, class: "0a"}}},
		},
	},
	{
		name:   "pi3b-published",
		model:  "Raspberry Pi 3 Model B Rev 1.2",
		prefix: map[string]string{"1": "devices/platform/soc/3f980000.usb"},
		source: `https://github.com/mvp/uhubctl/issues/293 (2020-12-09), "sudo ./uhubctl" on a "raspberry pi 3 model b rev 1.2", kernel 5.4.79-v7+ (no port disable files):
Current status for hub 1-1 [0424:9514, USB 2.00, 5 ports, ppps]
  Port 1: 0503 power highspeed enable connect [0424:ec00]
  Port 3: 0103 power enable connect [10c4:ea60 Silicon Labs ELV HQ-Stereo-UKW-Pr?fgenerator SUP2]
Current status for hub 1 [1d6b:0002 Linux 5.4.79-v7+ dwc_otg_hcd DWC OTG Controller 3f980000.usb, USB 2.00, 1 ports, ppps]
The reporter switched port 3 off: the hub said "0000 off" but the device kept its power; switching port 2 cut it.
The CP210x (10c4:ea60) gets one usb-serial tty, ttyUSB0, as cp210x creates.`,
		devs: []tDev{
			root("usb1", "1d6b:0002", "DWC OTG Controller", " 2.00", 1),
			{name: "1-1", vidpid: "0424:9514", version: " 2.00", hubPorts: 5},
			{name: "1-1.1", vidpid: "0424:ec00", version: " 2.00", ifaces: []tIface{{num: 0, class: "ff"}}},
			{name: "1-1.3", vidpid: "10c4:ea60", mfr: "Silicon Labs", product: "ELV HQ-Stereo-UKW-Pr?fgenerator", serial: "SUP2", version: " 1.10",
				ifaces: ttys("ttyUSB0")},
		},
	},
	{
		name:   "pi3bplus-published",
		model:  "Raspberry Pi 3 Model B Plus Rev 1.3",
		prefix: map[string]string{"1": "devices/platform/soc/3f980000.usb"},
		source: `https://github.com/mvp/uhubctl/issues/138 (2019-03-17), "sudo uhubctl" and "lsusb -t" on a 3B+:
Current status for hub 1-1.1 [0424:2514, USB 2.00, 3 ports]
  Port 1: 0503 power highspeed enable connect [0424:7800]
Current status for hub 1-1 [0424:2514, USB 2.00, 4 ports]
  Port 1: 0503 power highspeed enable connect [0424:2514, USB 2.00, 3 ports]
/:  Bus 01.Port 1: Dev 1, Class=root_hub, Driver=dwc_otg/1p, 480M
    |__ Port 1: Dev 2, If 0, Class=Hub, Driver=hub/4p, 480M
        |__ Port 1: Dev 3, If 0, Class=Hub, Driver=hub/3p, 480M
            |__ Port 1: Dev 4, If 0, Class=Vendor Specific Class, Driver=lan78xx, 480M
Nothing was plugged into the outside ports; the board revision string is not in the report.`,
		devs: []tDev{
			root("usb1", "1d6b:0002", "DWC OTG Controller", " 2.00", 1),
			{name: "1-1", vidpid: "0424:2514", version: " 2.00", hubPorts: 4},
			{name: "1-1.1", vidpid: "0424:2514", version: " 2.00", hubPorts: 3},
			{name: "1-1.1.1", vidpid: "0424:7800", version: " 2.10", ifaces: []tIface{{num: 0, class: "ff"}}},
		},
	},
	{
		name:   "pi4-published",
		model:  "Raspberry Pi 4 Model B",
		prefix: map[string]string{"1": "devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0", "2": "devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0"},
		source: `https://github.com/mvp/uhubctl/issues/327 (2021-03-23), "uhubctl" on a "Raspberry Pi 4B 2GB", kernel 5.4.79-v7l+ (no port disable files):
Current status for hub 2 [1d6b:0003 Linux 5.4.79-v7l+ xhci-hcd xHCI Host Controller 0000:01:00.0, USB 3.00, 4 ports, ppps]
Current status for hub 1-1 [2109:3431 USB2.0 Hub, USB 2.10, 4 ports, ppps]
  Port 3: 0103 power enable connect [1a86:7523 USB2.0-Serial]
Current status for hub 1 [1d6b:0002 Linux 5.4.79-v7l+ xhci-hcd xHCI Host Controller 0000:01:00.0, USB 2.00, 1 ports, ppps]
  Port 1: 0503 power highspeed enable connect [2109:3431 USB2.0 Hub, USB 2.10, 4 ports, ppps]
Switching "-p 3 -l 1-1" left the device powered. The CH340 (1a86:7523) gets ttyUSB0 (ch341 driver).
The report names the board but not its revision.`,
		devs: []tDev{
			root("usb1", "1d6b:0002", "xHCI Host Controller", " 2.00", 1),
			{name: "1-1", vidpid: "2109:3431", product: "USB2.0 Hub", version: " 2.10", hubPorts: 4},
			{name: "1-1.3", vidpid: "1a86:7523", product: "USB2.0-Serial", version: " 1.10", ifaces: ttys("ttyUSB0")},
			root("usb2", "1d6b:0003", "xHCI Host Controller", " 3.00", 4),
		},
	},
	{
		name:  "pi5-published",
		model: "Raspberry Pi 5 Model B Rev 1.0",
		prefix: map[string]string{
			"1": "devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0",
			"2": "devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0",
			"3": "devices/platform/axi/1000120000.pcie/1f00300000.usb/xhci-hcd.1",
			"4": "devices/platform/axi/1000120000.pcie/1f00300000.usb/xhci-hcd.1",
		},
		disable: true,
		source: `https://github.com/mvp/uhubctl/issues/547 (2023-12-01), "uhubctl" on a Pi 5, Raspbian 12, kernel 6.1.0-rpi6-rpi-v8 (port disable files exist since 6.0):
Current status for hub 4 [1d6b:0003 ... xhci-hcd.1, USB 3.00, 1 ports, ppps]
Current status for hub 3 [1d6b:0002 ... xhci-hcd.1, USB 2.00, 2 ports, ppps]
Current status for hub 2 [1d6b:0003 ... xhci-hcd.0, USB 3.00, 1 ports, ppps]
Current status for hub 1 [1d6b:0002 ... xhci-hcd.0, USB 2.00, 2 ports, ppps]
  Port 2: 0103 power enable connect [0403:6001 FTDI FT232R USB UART 001X8MQT]
The FT232R (0403:6001) gets ttyUSB0 (ftdi_sio). The model string is the one in mvp/uhubctl#605.`,
		devs: []tDev{
			root("usb1", "1d6b:0002", "xHCI Host Controller", " 2.00", 2),
			root("usb2", "1d6b:0003", "xHCI Host Controller", " 3.00", 1),
			root("usb3", "1d6b:0002", "xHCI Host Controller", " 2.00", 2),
			root("usb4", "1d6b:0003", "xHCI Host Controller", " 3.00", 1),
			{name: "1-2", vidpid: "0403:6001", mfr: "FTDI", product: "FT232R USB UART", serial: "001X8MQT", version: " 2.00", ifaces: ttys("ttyUSB0")},
		},
	},
	{
		name:  "pi5-exthub-published",
		model: "Raspberry Pi 5 Model B Rev 1.0",
		prefix: map[string]string{
			"1": "devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0",
			"2": "devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0",
			"3": "devices/platform/axi/1000120000.pcie/1f00300000.usb/xhci-hcd.1",
			"4": "devices/platform/axi/1000120000.pcie/1f00300000.usb/xhci-hcd.1",
		},
		disable: true,
		source: `https://github.com/mvp/uhubctl/issues/607 (2025-01-06), "uhubctl -l 1; uhubctl -l 3" on a Pi 5, kernel 6.6.51+rpt-rpi-2712:
Current status for hub 1 [1d6b:0002 ... xhci-hcd.0, USB 2.00, 2 ports, ppps]
  Port 1: 0503 power highspeed enable connect [2109:2822 VIA Labs, Inc. USB2.0 Hub 000000001, USB 2.10, 5 ports, ppps]
Current status for hub 3 [1d6b:0002 ... xhci-hcd.1, USB 2.00, 2 ports, ppps]
Hubs 2 and 4 (1-port USB 3 roots) are not in the excerpt; they are added as in mvp/uhubctl#547.
Nothing was attached below the external hub.`,
		devs: []tDev{
			root("usb1", "1d6b:0002", "xHCI Host Controller", " 2.00", 2),
			root("usb2", "1d6b:0003", "xHCI Host Controller", " 3.00", 1),
			root("usb3", "1d6b:0002", "xHCI Host Controller", " 2.00", 2),
			root("usb4", "1d6b:0003", "xHCI Host Controller", " 3.00", 1),
			{name: "1-1", vidpid: "2109:2822", mfr: "VIA Labs, Inc.", product: "USB2.0 Hub", serial: "000000001", version: " 2.10", hubPorts: 5},
		},
	},
}

// devPath is a device's directory relative to the sysfs root.
func (tr tTree) devPath(name string) string {
	bus, path, err := ParseDevice(name)
	if err != nil {
		panic(err)
	}
	p := filepath.Join(tr.prefix[fmt.Sprint(bus)], sysfsName(bus, nil))
	for i := range path {
		p = filepath.Join(p, sysfsName(bus, path[:i+1]))
	}
	return p
}

// build writes the tree under dir (dir is the sysfs root).
func (tr tTree) build(t testing.TB, dir string) {
	t.Helper()
	w := &treeWriter{t: t, root: dir}
	if tr.model != "" {
		w.file("firmware/devicetree/base/model", tr.model+"\x00")
	}
	if tr.source != "" { // beside sys/, not in it: no sysfs reader sees it
		w.file("../SOURCE", tr.source+"\n")
	}
	for i, d := range tr.devs {
		tr.buildDev(w, d, i+1)
	}
	if tr.serial {
		tty := "devices/platform/serial8250/serial8250:0/serial8250:0.0/tty/ttyS0"
		w.file(tty+"/dev", "4:64\n")
		w.link(tty+"/device", "../../../serial8250:0.0")
		w.link("class/tty/ttyS0", "../../"+tty)
	}
}

func (tr tTree) buildDev(w *treeWriter, d tDev, devnum int) {
	bus, path, _ := ParseDevice(d.name)
	dp := tr.devPath(d.name)
	vid, pid, _ := strings.Cut(d.vidpid, ":")
	class := "00"
	if d.hubPorts > 0 {
		class = "09"
	}
	devpath := "0"
	if len(path) > 0 {
		devpath = strings.Trim(strings.ReplaceAll(fmt.Sprint(path), " ", "."), "[]")
	}
	for k, v := range map[string]string{"idVendor": vid, "idProduct": pid, "busnum": fmt.Sprint(bus),
		"devnum": fmt.Sprint(devnum), "devpath": devpath, "version": d.version, "bDeviceClass": class,
		"bConfigurationValue": "1", "maxchild": fmt.Sprint(d.hubPorts), "manufacturer": d.mfr,
		"product": d.product, "serial": d.serial} {
		if v != "" {
			w.file(dp+"/"+k, v+"\n")
		}
	}
	w.link("bus/usb/devices/"+d.name, "../../../"+dp)
	if d.hubPorts > 0 {
		ifName := d.name + ":1.0"
		if len(path) == 0 {
			ifName = fmt.Sprintf("%d-0:1.0", bus)
		}
		tr.buildIface(w, dp, ifName, tIface{num: 0, class: "09"})
		for p := 1; p <= d.hubPorts; p++ {
			pd := fmt.Sprintf("%s/%s/%s-port%d", dp, ifName, d.name, p)
			w.file(pd+"/connect_type", "hotplug\n")
			if tr.disable {
				w.file(pd+"/disable", "0\n")
			}
		}
	}
	for _, in := range d.ifaces {
		tr.buildIface(w, dp, fmt.Sprintf("%s:1.%d", d.name, in.num), in)
	}
}

func (tr tTree) buildIface(w *treeWriter, dp, ifName string, in tIface) {
	ip := dp + "/" + ifName
	w.file(ip+"/bInterfaceNumber", fmt.Sprintf("%02x\n", in.num))
	w.file(ip+"/bInterfaceClass", in.class+"\n")
	w.link("bus/usb/devices/"+ifName, "../../../"+ip)
	switch {
	case strings.HasPrefix(in.tty, "ttyUSB"):
		td := ip + "/" + in.tty + "/tty/" + in.tty
		w.file(td+"/dev", "188:0\n")
		w.link(td+"/device", "../../../"+in.tty)
		w.link("class/tty/"+in.tty, "../../"+td)
	case in.tty != "":
		td := ip + "/tty/" + in.tty
		w.file(td+"/dev", "166:0\n")
		w.link(td+"/device", "../../../"+ifName)
		w.link("class/tty/"+in.tty, "../../"+td)
	}
}

type treeWriter struct {
	t    testing.TB
	root string
}

func (w *treeWriter) file(rel, content string) {
	p := filepath.Join(w.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *treeWriter) link(rel, target string) {
	p := filepath.Join(w.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		w.t.Fatal(err)
	}
}

func treeByName(name string) tTree {
	for _, tr := range trees {
		if tr.name == name {
			return tr
		}
	}
	panic("no tree " + name)
}

// sysTree returns the checked-in tree's sysfs root (read-only use).
func sysTree(name string) string { return filepath.Join("testdata", name, "sys") }

// freshTree builds a tree in a temporary directory, for tests that mutate it.
func freshTree(t testing.TB, name string) string {
	dir := filepath.Join(t.TempDir(), "sys")
	treeByName(name).build(t, dir)
	return dir
}

// snapshot lists every file and symlink under dir with its content or target.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[rel] = "-> " + target
			return err
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			out[rel] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTreesUpToDate checks the checked-in trees are what the builder writes
// (or rewrites them with -update), so a reviewer can trust the builder code.
func TestTreesUpToDate(t *testing.T) {
	for _, tr := range trees {
		t.Run(tr.name, func(t *testing.T) {
			if *update {
				if err := os.RemoveAll(filepath.Join("testdata", tr.name)); err != nil {
					t.Fatal(err)
				}
				tr.build(t, sysTree(tr.name))
			}
			want := snapshot(t, filepath.Dir(freshTree(t, tr.name)))
			got := snapshot(t, filepath.Join("testdata", tr.name))
			if len(got) != len(want) {
				t.Errorf("testdata/%s has %d entries, builder %d: run with -update", tr.name, len(got), len(want))
			}
			for k, v := range want {
				if !bytes.Equal([]byte(got[k]), []byte(v)) {
					t.Errorf("testdata/%s/%s = %q, builder writes %q: run with -update", tr.name, k, got[k], v)
				}
			}
		})
	}
}
