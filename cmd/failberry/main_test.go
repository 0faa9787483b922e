package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/daemon"
	"github.com/failberry/failberry/usbpower"
)

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := dispatch(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

// `failberry usb off` on the port that carries a Pi 3B's Ethernet adapter is
// refused, naming the risk, before anything is switched.
func TestUSBOffRefusesPi3BEthernet(t *testing.T) {
	sys := filepath.Join("..", "..", "usbpower", "testdata", "pi3b", "sys")
	_, _, err := runCLI(t, "usb", "off", "--hub", "1-1", "--port", "1", "--sysfs", sys)
	if err == nil || !strings.Contains(err.Error(), "Ethernet") {
		t.Fatalf("want a refusal naming the Ethernet, got %v", err)
	}
}

// noHubs is a machine without USB hubs (or without permission to see them).
type noHubs struct{}

func (noHubs) Hubs(context.Context) ([]usbpower.Hub, error) { return nil, nil }
func (noHubs) SetPortPower(context.Context, string, int, bool) error {
	return errors.New("no hub to switch")
}

// `failberry usb status` with no hub says so and fails, rather than printing
// nothing and exiting 0.
func TestUSBStatusNoHub(t *testing.T) {
	var out bytes.Buffer
	err := usbStatus(context.Background(), noHubs{}, "", &out)
	if exitCode(err) == 0 || !strings.Contains(fmt.Sprint(err), "no USB hub found") {
		t.Fatalf("usb status with no hubs: exit %d, err %v", exitCode(err), err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("modem:\n  apn: internet\n"), 0o600)
	out, _, err := runCLI(t, "check", "--config", good)
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, want := range []string{"apn: internet", "-A FAILBERRY-POSTROUTING -o ppp+ -j MASQUERADE", "--dport 9000"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("modem:\n  apn: internet\n  baud: fast\n"), 0o600)
	_, _, err = runCLI(t, "check", "--config", bad)
	if exitCode(err) != 3 || !strings.Contains(err.Error(), "bad.yaml:3: modem.baud") {
		t.Fatalf("bad config: want exit 3 naming file, line and key, got %d %v", exitCode(err), err)
	}
	if _, _, err := runCLI(t, "check", "--config", filepath.Join(dir, "missing.yaml")); exitCode(err) != 3 {
		t.Fatalf("missing config: want exit 3, got %v", err)
	}
}

// `failberry check` refuses probe targets the prober cannot run (issue 11:
// they used to pass the check and leave /cellular at 503 for good), naming
// the line, the key and what to write instead.
func TestCheckRefusesTargetsTheProberCannotRun(t *testing.T) {
	for target, why := range map[string]string{
		"icmp:example.com":             "has no IPv4 address after icmp:",
		"https://example.com/generate": "is an https URL; the prober speaks plain http only",
	} {
		path := filepath.Join(t.TempDir(), "failberry.yaml")
		os.WriteFile(path, []byte("modem:\n  apn: internet\nhealth:\n  probes:\n    targets: [\"icmp:1.1.1.1\", \""+target+"\"]\n"), 0o600)
		_, _, err := runCLI(t, "check", "--config", path)
		want := path + `:5: health.probes.targets[1]: "` + target + `" ` + why
		if exitCode(err) != 3 || err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `use "icmp:1.1.1.1"`) {
			t.Errorf("%s: want exit 3 with %q and what to write, got %d %v", target, want, exitCode(err), err)
		}
	}
}

// The budget check uses the prober's own estimate (health.CheckBudget).
func TestCheckProbeBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failberry.yaml")
	os.WriteFile(path, []byte("modem:\n  apn: internet\nhealth:\n  probes:\n    budget_bytes_per_day: 100kB\n"), 0o600)
	_, _, err := runCLI(t, "check", "--config", path)
	if exitCode(err) != 3 || !strings.Contains(err.Error(), ":5: health.probes.budget_bytes_per_day: probing one of 3 targets every 1m uses about 0.3 MB a day") {
		t.Fatalf("want the budget refused with the prober's estimate, got %d %v", exitCode(err), err)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, err := runCLI(t, "frobnicate")
	if exitCode(err) != 2 || !strings.Contains(stderr, "usage: failberry") {
		t.Fatalf("got %v, stderr %q", err, stderr)
	}
}

// `failberry check` says whether the running daemon's cellular address is
// behind the carrier's NAT (issue 12), from the daemon's status on its
// control socket; without a daemon it says nothing about inbound.
func TestCheckReportsCarrierNAT(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	cfg := filepath.Join(dir, "f.yaml")
	os.WriteFile(cfg, []byte("modem:\n  apn: internet\nrun_dir: "+run+"\n"), 0o600)
	if out, _, err := runCLI(t, "check", "--config", cfg); err != nil || strings.Contains(out, "Inbound") {
		t.Fatalf("without a daemon: %v\n%s", err, out)
	}
	os.MkdirAll(run, 0o755)
	ln, err := net.Listen("unix", daemon.ControlSocket(run))
	if err != nil {
		t.Fatal(err)
	}
	var status atomic.Pointer[health.Status]
	status.Store(&health.Status{Inbound: health.InboundStatus{Address: "100.64.0.2", CarrierNAT: true}})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { json.NewEncoder(w).Encode(status.Load()) })}
	go srv.Serve(ln)
	defer srv.Close()
	out, _, err := runCLI(t, "check", "--config", cfg)
	if err != nil || !strings.Contains(out, "# Inbound: the cellular address 100.64.0.2 is behind the carrier's NAT") ||
		!strings.Contains(out, "ask the carrier for a public address") {
		t.Errorf("check with a daemon behind carrier NAT: %v\n%s", err, out)
	}
	status.Store(&health.Status{Inbound: health.InboundStatus{Address: "192.168.8.100", CarrierNAT: true, StickNAT: true}})
	out, _, err = runCLI(t, "check", "--config", cfg)
	if err != nil || !strings.Contains(out, "# Inbound: the cellular address 192.168.8.100 is behind the stick's NAT") ||
		!strings.Contains(out, "the stick's own DMZ or port forwarding") {
		t.Errorf("check with a daemon behind a network-card stick: %v\n%s", err, out)
	}
}
