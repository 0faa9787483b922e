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

// The captured sysfs trees in testdata/ are written by this builder: real
// kernel layout (devices/... with relative symlinks from class/tty and
// bus/usb/devices), keeping only the files the package reads. Regenerate with
//
//	go test ./usbpower -run TestTreesUpToDate -update
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
	serial  bool // add a non-USB ttyS0
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
			want := snapshot(t, freshTree(t, tr.name))
			got := snapshot(t, sysTree(tr.name))
			if len(got) != len(want) {
				t.Errorf("testdata/%s has %d entries, builder %d: run with -update", tr.name, len(got), len(want))
			}
			for k, v := range want {
				if !bytes.Equal([]byte(got[k]), []byte(v)) {
					t.Errorf("testdata/%s/sys/%s = %q, builder writes %q: run with -update", tr.name, k, got[k], v)
				}
			}
		})
	}
}
