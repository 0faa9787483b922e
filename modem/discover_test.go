package modem

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// copySysfsTree copies a testdata sysfs tree into a temporary directory, keeping
// its relative symlinks, so a test can change it.
func copySysfsTree(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "sysfs", name)
	dst := filepath.Join(t.TempDir(), "sys")
	err := os.CopyFS(dst, os.DirFS(src)) // keeps the trees' relative symlinks
	if err != nil {
		t.Fatalf("copy %s: %v", name, err)
	}
	return dst
}

// fakeDevDir makes a fake /dev holding the named nodes (plain files).
func fakeDevDir(t *testing.T, names ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(d, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

type portSummary struct {
	Name, Driver, VID, PID, USBDevice string
	Interface, Class, SubClass, Proto int
	Role                              PortRole
	Diagnostic                        bool
}

func summarizePorts(cs []TTYCandidate) []portSummary {
	var out []portSummary
	for _, c := range cs {
		out = append(out, portSummary{c.Name, c.Driver, c.VID, c.PID, c.USBDevice, c.Interface, c.Class, c.SubClass, c.Protocol, c.Role, c.Diagnostic})
	}
	return out
}

func TestCandidates(t *testing.T) {
	tests := []struct {
		tree string
		want []portSummary
	}{
		{"mf180", []portSummary{
			{"ttyUSB0", "option", "19d2", "0031", "1-1.2", 0, 0xff, 0xff, 0xff, RoleDiag, true},
			{"ttyUSB1", "option", "19d2", "0031", "1-1.2", 1, 0xff, 0xff, 0xff, RoleAux, false},
			{"ttyUSB2", "option", "19d2", "0031", "1-1.2", 2, 0xff, 0xff, 0xff, RoleModem, false},
		}},
		{"ftdi", []portSummary{
			{"ttyUSB0", "ftdi_sio", "0403", "6001", "1-1.2", 0, 0xff, 0xff, 0xff, RoleUnknown, false},
		}},
		{"sierra", []portSummary{
			{"ttyUSB0", "qcserial", "1199", "9071", "1-1.3", 0, 0xff, 0xff, 0xff, RoleDiag, true},
			{"ttyUSB1", "qcserial", "1199", "9071", "1-1.3", 2, 0xff, 0xff, 0xff, RoleNMEA, false},
			{"ttyUSB2", "qcserial", "1199", "9071", "1-1.3", 3, 0xff, 0xff, 0xff, RoleModem, false},
		}},
		{"acm", []portSummary{
			{"ttyACM0", "cdc_acm", "1bc7", "0021", "1-1.4", 0, 2, 2, 1, RoleModem, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tree, func(t *testing.T) {
			got, err := Candidates(filepath.Join("testdata", "sysfs", tt.tree), "/dev")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summarizePorts(got)); diff != "" {
				t.Errorf("Candidates (-want +got):\n%s", diff)
			}
			for _, c := range got {
				if c.DevPath != "/dev/"+c.Name || c.Why == "" {
					t.Errorf("%s: DevPath %q, Why %q", c.Name, c.DevPath, c.Why)
				}
			}
		})
	}
}

func TestCandidatesMissingRoot(t *testing.T) {
	_, err := Candidates(t.TempDir(), "/dev")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func TestCandidatesGarbage(t *testing.T) {
	sys := copySysfsTree(t, "mf180")
	intf := filepath.Join(sys, "devices/platform/soc/3f980000.usb/usb1/1-1/1-1.2/1-1.2:1.1")
	if err := os.WriteFile(filepath.Join(intf, "bInterfaceNumber"), []byte("zz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A dangling link (device unplugged while listed) and a non-USB ttyUSB.
	if err := os.Symlink("../../devices/gone/ttyUSB7", filepath.Join(sys, "class/tty/ttyUSB7")); err != nil {
		t.Fatal(err)
	}
	got, err := Candidates(sys, "/dev")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
		if c.Name == "ttyUSB1" && (c.VID != "19d2" || c.Interface != -1 || c.Why == "") {
			t.Errorf("garbage interface: %+v", c)
		}
	}
	if diff := cmp.Diff([]string{"ttyUSB0", "ttyUSB1", "ttyUSB2", "ttyUSB7"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	// Locate must skip both broken ports and still find the modem.
	r := &probeRecorder{ok: map[string]bool{"ttyUSB1": true, "ttyUSB7": true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = Locate(ctx, Selector{Interface: -1}, sys, fakeDevDir(t, "ttyUSB1", "ttyUSB2", "ttyUSB7"), r.probe, time.Millisecond)
	if !errors.Is(err, ErrNoModemPort) {
		t.Fatalf("Locate err = %v", err)
	}
	for _, p := range r.list() {
		if p != "ttyUSB2" {
			t.Errorf("probed broken port %s", p)
		}
	}
}

// probeRecorder is a Prober that answers for the listed device paths and records
// every probe, so tests can check that no diagnostics port was touched.
type probeRecorder struct {
	mu     sync.Mutex
	ok     map[string]bool
	probed []string
}

func (r *probeRecorder) probe(_ context.Context, dev string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probed = append(r.probed, filepath.Base(dev))
	return r.ok[filepath.Base(dev)]
}

func (r *probeRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.probed...)
}

func probeAnswerAll(context.Context, string) bool { return true }

func TestLocateAutomatic(t *testing.T) {
	tests := []struct {
		name, tree string
		sel        Selector
		answers    []string
		want       string
		wantProbed []string
	}{
		{"mf180 modem port", "mf180", Selector{Interface: -1}, []string{"ttyUSB0", "ttyUSB1", "ttyUSB2"}, "ttyUSB2", []string{"ttyUSB2"}},
		{"bench ftdi", "ftdi", Selector{}, []string{"ttyUSB0"}, "ttyUSB0", []string{"ttyUSB0"}},
		{"sierra skips diag", "sierra", Selector{}, []string{"ttyUSB0", "ttyUSB1", "ttyUSB2"}, "ttyUSB2", []string{"ttyUSB2"}},
		{"acm", "acm", Selector{}, []string{"ttyACM0"}, "ttyACM0", []string{"ttyACM0"}},
		{"vidpid", "ftdi", Selector{VIDPID: "0403:6001", Interface: 0}, []string{"ttyUSB0"}, "ttyUSB0", []string{"ttyUSB0"}},
		{"vidpid and interface", "mf180", Selector{VIDPID: "19D2:0031", Interface: 2}, []string{"ttyUSB2"}, "ttyUSB2", []string{"ttyUSB2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := filepath.Join("testdata", "sysfs", tt.tree)
			r := &probeRecorder{ok: map[string]bool{}}
			for _, a := range tt.answers {
				r.ok[a] = true
			}
			c, err := Locate(context.Background(), tt.sel, sys, fakeDevDir(t, tt.answers...), r.probe, time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != tt.want {
				t.Errorf("Locate = %s, want %s", c.Name, tt.want)
			}
			if diff := cmp.Diff(tt.wantProbed, r.list()); diff != "" {
				t.Errorf("probed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLocateNeverProbesDiagnostics(t *testing.T) {
	for _, tree := range []string{"mf180", "sierra"} {
		r := &probeRecorder{ok: map[string]bool{}} // nothing answers
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := Locate(ctx, Selector{}, filepath.Join("testdata", "sysfs", tree), fakeDevDir(t, "ttyUSB0", "ttyUSB1", "ttyUSB2"), r.probe, time.Millisecond)
		cancel()
		if !errors.Is(err, ErrNoModemPort) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v", tree, err)
		}
		for _, p := range r.list() {
			if p != "ttyUSB2" {
				t.Errorf("%s: probed %s", tree, p)
			}
		}
	}
}

func TestLocateExplicit(t *testing.T) {
	sys := filepath.Join("testdata", "sysfs", "mf180")
	dev := fakeDevDir(t, "ttyUSB0", "ttyUSB2")
	link := filepath.Join(dev, "by-id-if02")
	if err := os.Symlink("ttyUSB2", link); err != nil {
		t.Fatal(err)
	}
	c, err := Locate(context.Background(), Selector{Device: link}, sys, dev, probeAnswerAll, time.Millisecond)
	if err != nil || c.Name != "ttyUSB2" || c.DevPath != link || c.VID != "19d2" || c.Interface != 2 {
		t.Fatalf("Locate = %+v, %v", c, err)
	}
	_, err = Locate(context.Background(), Selector{Device: filepath.Join(dev, "ttyUSB0")}, sys, dev, probeAnswerAll, time.Millisecond)
	if !errors.Is(err, ErrDiagnosticPort) {
		t.Fatalf("diag port: err = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = Locate(ctx, Selector{Device: filepath.Join(dev, "ttyUSB9")}, sys, dev, probeAnswerAll, time.Millisecond)
	if !errors.Is(err, ErrNoModemPort) {
		t.Fatalf("missing device: err = %v", err)
	}
}

// TestLocateWaitsForModem starts Locate on a tree without ttys and plugs the
// modem in while it waits.
func TestLocateWaitsForModem(t *testing.T) {
	sys := copySysfsTree(t, "mf180")
	dev := fakeDevDir(t)
	aside := t.TempDir()
	ttys, _ := os.ReadDir(filepath.Join(sys, "class/tty"))
	for _, e := range ttys { // unplug: same directory depth keeps the links valid
		if err := os.Rename(filepath.Join(sys, "class/tty", e.Name()), filepath.Join(aside, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	r := &probeRecorder{ok: map[string]bool{"ttyUSB2": true}}
	type result struct {
		c   TTYCandidate
		err error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		c, err := Locate(ctx, Selector{}, sys, dev, r.probe, 5*time.Millisecond)
		done <- result{c, err}
	}()
	select {
	case res := <-done:
		t.Fatalf("Locate returned before the modem appeared: %+v", res)
	case <-time.After(30 * time.Millisecond):
	}
	for _, e := range ttys { // plug in: links first, then the device nodes (udev)
		if err := os.Rename(filepath.Join(aside, e.Name()), filepath.Join(sys, "class/tty", e.Name())); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dev, e.Name()), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res := <-done
	if res.err != nil || res.c.Name != "ttyUSB2" {
		t.Fatalf("Locate = %+v, %v", res.c, res.err)
	}
}

// TestLocateReenumerated checks that after a modem reset the port is found
// again under its new name, by VID:PID and interface.
func TestLocateReenumerated(t *testing.T) {
	sel := Selector{VIDPID: "19d2:0031", Interface: 2}
	dev := fakeDevDir(t, "ttyUSB0", "ttyUSB1", "ttyUSB2", "ttyUSB3", "ttyUSB4", "ttyUSB5")
	before, err := Locate(context.Background(), sel, filepath.Join("testdata", "sysfs", "mf180"), dev, probeAnswerAll, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	after, err := Locate(context.Background(), sel, filepath.Join("testdata", "sysfs", "mf180-reenum"), dev, probeAnswerAll, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if before.Name != "ttyUSB2" || after.Name != "ttyUSB5" || after.USBDevice != before.USBDevice {
		t.Errorf("before %s@%s, after %s@%s", before.Name, before.USBDevice, after.Name, after.USBDevice)
	}
}

// BenchmarkCandidates measures one poll of Locate's sysfs scan (three ports).
func BenchmarkCandidates(b *testing.B) {
	sys := filepath.Join("testdata", "sysfs", "mf180")
	for b.Loop() {
		if _, err := Candidates(sys, "/dev"); err != nil {
			b.Fatal(err)
		}
	}
}
