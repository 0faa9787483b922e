package usbpower

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLocateTTY(t *testing.T) {
	tests := []struct {
		tree, tty string
		want      Location
	}{
		{"bench", "/dev/ttyUSB0", Location{Hub: "1-1", Port: 2, Device: "1-1.2", Bus: 1, HubPath: []int{1}, VID: "0403", PID: "6001", Interface: 0}},
		{"bench", "ttyUSB0", Location{Hub: "1-1", Port: 2, Device: "1-1.2", Bus: 1, HubPath: []int{1}, VID: "0403", PID: "6001", Interface: 0}},
		{"pi3b", "ttyUSB2", Location{Hub: "1-1", Port: 2, Device: "1-1.2", Bus: 1, HubPath: []int{1}, VID: "19d2", PID: "0031", Interface: 2}},
		{"pi3bplus", "ttyUSB0", Location{Hub: "1-1", Port: 3, Device: "1-1.3", Bus: 1, HubPath: []int{1}, VID: "12d1", PID: "1506", Interface: 0}},
		{"pi4", "/dev/ttyUSB1", Location{Hub: "1-1", Port: 4, Device: "1-1.4", Bus: 1, HubPath: []int{1}, VID: "19d2", PID: "0031", Interface: 1}},
		{"pi5", "ttyACM0", Location{Hub: "3", Port: 1, Device: "3-1", Bus: 3, HubPath: []int{}, VID: "2c7c", PID: "0125", Interface: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.tree+"/"+tt.tty, func(t *testing.T) {
			got, err := LocateTTY(sysTree(tt.tree), tt.tty)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LocateTTY (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLocateTTYErrors(t *testing.T) {
	tests := []struct {
		tty  string
		want error
	}{
		{"ttyS0", ErrNotUSB},
		{"ttyUSB7", ErrNotFound},
		{"", ErrBadName},
		{"..", ErrBadName},
		{"../../etc/passwd", ErrBadName},
		{"tty\x00USB0", ErrBadName},
		{"/dev/", ErrBadName},
	}
	for _, tt := range tests {
		_, err := LocateTTY(sysTree("bench"), tt.tty)
		if !errors.Is(err, tt.want) {
			t.Errorf("LocateTTY(%q) = %v, want %v", tt.tty, err, tt.want)
		}
	}
}

func TestLocateTTYLinkLeavingRoot(t *testing.T) {
	sys := freshTree(t, "bench")
	outside := filepath.Join(filepath.Dir(sys), "outside", "1-1.9", "1-1.9:1.0", "ttyUSB5")
	if err := os.MkdirAll(filepath.Join(outside, "tty", "ttyUSB5"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(filepath.Dir(outside)), "idVendor"), []byte("dead\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(sys, "class", "tty", "ttyUSB5")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../ttyUSB5", filepath.Join(outside, "tty", "ttyUSB5", "device")); err != nil {
		t.Fatal(err)
	}
	if _, err := LocateTTY(sys, "ttyUSB5"); !errors.Is(err, ErrNotUSB) {
		t.Fatalf("LocateTTY via a link leaving sysfs = %v, want ErrNotUSB", err)
	}
}

// renameTTY simulates re-enumeration: ttyUSB0 vanishes, later the same
// interface comes back as ttyUSB1.
func removeTTY(t *testing.T, sys, tty string) string {
	t.Helper()
	link := filepath.Join(sys, "class", "tty", tty)
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		t.Fatal(err)
	}
	ttyDir := filepath.Dir(filepath.Dir(target)) // .../1-1.2:1.0/ttyUSB0
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(ttyDir); err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(ttyDir) // the interface directory
}

func addTTY(sys, ifDir, tty string) error {
	td := filepath.Join(ifDir, tty, "tty", tty)
	if err := os.MkdirAll(td, 0o755); err != nil {
		return err
	}
	if err := os.Symlink("../../../"+tty, filepath.Join(td, "device")); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Join(sys, "class", "tty"), td)
	if err != nil {
		return err
	}
	return os.Symlink(rel, filepath.Join(sys, "class", "tty", tty))
}

func TestWaitTTYFindsRenamedTTY(t *testing.T) {
	sys := freshTree(t, "bench")
	ifDir := removeTTY(t, sys, "ttyUSB0")
	errc := make(chan error, 1)
	go func() {
		time.Sleep(30 * time.Millisecond)
		errc <- addTTY(sys, ifDir, "ttyUSB1")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := WaitTTY(ctx, sys, MatchLocation("1-1.2", 0), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got != "ttyUSB1" {
		t.Errorf("WaitTTY = %q, want ttyUSB1", got)
	}
	got, err = WaitTTY(ctx, sys, MatchVIDPID("0403", "6001", -1), time.Millisecond)
	if err != nil || got != "ttyUSB1" {
		t.Errorf("WaitTTY by VID:PID = %q, %v; want ttyUSB1", got, err)
	}
}

func TestWaitTTYTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := WaitTTY(ctx, sysTree("bench"), MatchVIDPID("12d1", "1506", -1), 5*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTTY for an absent modem = %v, want DeadlineExceeded", err)
	}
}
