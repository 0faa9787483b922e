package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/config/value"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

var (
	cellLocal    = netip.MustParseAddr("100.70.1.2")
	cellPeer     = netip.MustParseAddr("10.64.64.64")
	wiredGateway = netip.MustParseAddr("192.168.1.1")
	stickRouter  = netip.MustParseAddr("192.168.8.1")
)

// harness is one daemon running against the fakes, with the simulated
// modem on ttyUSB2 of the captured MF180 sysfs tree (modem/testdata).
type harness struct {
	t        *testing.T
	fwHeld   sync.RWMutex // write-locked: the policy's apply waits (the gate's does not)
	gateHeld sync.RWMutex // write-locked: the gate's apply waits
	d        *Daemon
	rec      *calls
	modem    *sim.Modem
	serial   *simSerial
	pppd     *fakePPPD
	netcard  *fakeNetcard
	links    *fakeWatcher
	routes   *fakeRoutes
	usb      *fakeUSB
	probers  *fakeProbers
	clock    *fakeClock
	traffic  *fakeTraffic
	sys      string // the sysfs root: a copy of a captured tree
	dev      string
	cancel   context.CancelFunc
	done     chan error
}

// newHarness builds the daemon; simCfg and edit adjust the modem and the
// config before it is made. Start it with start.
func newHarness(t *testing.T, simCfg sim.Config, edit func(*config.Config)) *harness {
	t.Helper()
	t.Setenv("NOTIFY_SOCKET", "")
	dir := t.TempDir()
	h := &harness{t: t, rec: &calls{}, sys: filepath.Join(dir, "sys"), dev: filepath.Join(dir, "dev")}
	h.plugTree("mf180")
	if err := os.Mkdir(h.dev, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if err := os.WriteFile(filepath.Join(h.dev, fmt.Sprintf("ttyUSB%d", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	proc := filepath.Join(dir, "proc")
	for _, f := range []string{"sys/net/ipv4/ip_forward", "sys/net/ipv6/conf/all/forwarding"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(proc, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, f), []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	simCfg.BootDelay, simCfg.RegistrationDelay = cmpOr(simCfg.BootDelay, -1), cmpOr(simCfg.RegistrationDelay, -1)
	simCfg.ConnectDelay = cmpOr(simCfg.ConnectDelay, -1)
	h.modem = sim.New(simCfg)
	h.serial = &simSerial{modem: h.modem, rec: h.rec, tty: h.tty("ttyUSB2")}
	h.pppd = &fakePPPD{rec: h.rec, started: make(chan *fakePPP, 1)}
	h.netcard = &fakeNetcard{rec: h.rec, started: make(chan *fakeNetLink, 1)}
	h.links = &fakeWatcher{watches: make(chan *linkWatch, 1)}
	h.routes = &fakeRoutes{rec: h.rec}
	h.usb = &fakeUSB{rec: h.rec, modem: h.modem}
	h.probers = &fakeProbers{made: make(chan *fakeProber, 1)}
	h.clock = newFakeClock(linkUpTimeout, 2*time.Minute)
	h.traffic = &fakeTraffic{}

	cfg := config.Default()
	cfg.Modem.USBID, cfg.Modem.Interface, cfg.Modem.APN = "19d2:0031", 2, "internet"
	cfg.Health.Listen, cfg.Health.StatusListen = freeAddr(t), ""
	cfg.RunDir, cfg.StateDir = filepath.Join(dir, "run"), filepath.Join(dir, "state")
	s := func(d time.Duration) value.Duration { return value.Duration(d) }
	cfg.Recovery.Redial = config.Budget{Attempts: 2, Backoff: s(time.Second), MaxBackoff: s(2 * time.Second)}
	cfg.Recovery.ModemReset = config.Budget{Attempts: 1}
	cfg.Recovery.PowerCycle.Budget = config.Budget{Attempts: 1}
	cfg.Recovery.Reboot.Enabled = false
	cfg.Notify.Hooks.Dir = "" // never the host's /etc/failberry/hooks.d
	cfg.Primary.Hold = s(100 * time.Millisecond)
	if edit != nil {
		edit(&cfg)
	}
	d, err := New(Options{
		Config: cfg, Logger: testLogger(t), SysRoot: h.sys, DevRoot: h.dev, RunRoot: dir, ProcRoot: proc,
		Events: systemd.NewEventsWithSender(nil, nil),
		Serial: h.serial, StartPPP: h.pppd.start, Netcard: h.netcard, WatchLink: h.links.watch, Routes: h.routes,
		Firewall: fakeFirewall{rec: h.rec, held: &h.fwHeld, gateHeld: &h.gateHeld}, USB: h.usb, NewProber: h.probers.make,
		Run:            func(_ context.Context, argv []string) ([]byte, error) { h.rec.add("run %v", argv); return nil, nil },
		FlushConntrack: func(a netip.Addr) (uint, error) { h.rec.add("conntrack flush %s", a); return 0, nil },
		ForgetMarked: func(mark, mask uint32) (uint, error) {
			h.rec.add("conntrack forget mark %#x/%#x, own traffic on cellular %v", mark, mask, h.routes.steer().Own)
			return 0, nil
		},
		LinkStats: h.traffic,
		After:     h.clock.After,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	return h
}

// testLogger logs through t when FAILBERRY_TEST_LOG is set, for debugging
// a scenario; else it discards.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("FAILBERRY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// freeAddr is a loopback address with a port nothing listens on: the
// firewall policy needs a real health port.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (h *harness) tty(name string) string { return filepath.Join(h.dev, name) }

// plugTree makes the sysfs root a copy of one of modem/testdata's trees
// (captured listings), as a re-enumeration changes what the kernel shows.
func (h *harness) plugTree(name string) {
	h.t.Helper()
	src := filepath.Join("..", "..", "modem", "testdata", "sysfs", name)
	tmp := h.sys + ".new"
	err := os.CopyFS(tmp, os.DirFS(src)) // keeps the trees' relative symlinks
	if err == nil {
		err = os.RemoveAll(h.sys)
	}
	if err == nil {
		err = os.Rename(tmp, h.sys)
	}
	if err != nil {
		h.t.Fatalf("sysfs tree %s: %v", name, err)
	}
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.d.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		<-h.done
	})
}

// stop stops the daemon and checks that it left nothing behind: every pppd
// it started was stopped or had exited, the firewall was cleaned and reply
// routing removed, last of all.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	if err := receive(h.t, "the daemon to stop", h.done); err != nil {
		h.t.Fatalf("Run = %v", err)
	}
	h.done <- nil // for the cleanup
	log := h.rec.all()
	starts, ends := 0, 0
	for _, c := range log {
		switch {
		case len(c) > 11 && c[:11] == "pppd start ":
			starts++
		case len(c) > 10 && c[:10] == "pppd stop ":
			ends++
		}
	}
	if n := h.pppdExited(); starts != ends+n {
		h.t.Errorf("%d pppd started, %d stopped, %d exited on their own: an orphan pppd%s", starts, ends, n, joined(log))
	}
	// The firewall's first apply runs beside the session and may finish
	// during the stop (a stop while searching): it is not part of the order.
	late := slices.DeleteFunc(slices.Clone(log), func(c string) bool { return c == "firewall apply" || c == "firewall gate" })
	tail := late[max(0, len(late)-2):]
	if !slices.Equal(tail, []string{"replies removed", "firewall cleanup"}) {
		h.t.Errorf("calls at stop end with %q, want reply routing removed then the firewall cleaned%s", tail, joined(log))
	}
	if got := h.routes.replyLinks(); got != nil {
		h.t.Errorf("reply routing left after stop: %v", got)
	}
	h.serial.mu.Lock()
	busy := h.serial.busy
	h.serial.mu.Unlock()
	if busy {
		h.t.Error("the modem's port was left open")
	}
}

// pppdExited counts the fake pppds that exited on their own (exit).
func (h *harness) pppdExited() int {
	h.pppd.mu.Lock()
	defer h.pppd.mu.Unlock()
	return h.pppd.exited
}

// session waits for the next pppd and its link watch.
func (h *harness) session() (*fakePPP, *linkWatch) {
	h.t.Helper()
	p := receive(h.t, "pppd to start", h.pppd.started)
	w := receive(h.t, "the link watch", h.links.watches)
	return p, w
}

// up brings the session's link up the way pppd does: the local address
// first, then the peer; it returns the session's prober.
func (h *harness) up(w *linkWatch) *fakeProber {
	h.t.Helper()
	l := route.Link{Name: "ppp0", Index: 7, Up: true, Local: cellLocal}
	w.fn(l)
	l.Peer = cellPeer
	w.fn(l)
	return receive(h.t, "the prober", h.probers.made)
}

// steps are the ladder's steps so far, from the recovery-step events, as
// "redial 1 (ppp)".
func (h *harness) steps() []string {
	var out []string
	for _, e := range h.d.events.Recent(recentEvents) {
		if e.Kind == systemd.RecoveryStep.Name {
			out = append(out, fmt.Sprintf("%s %s (%s)", e.Fields["STEP"], e.Fields["ATTEMPT"], e.Fields["REASON"]))
		}
	}
	return out
}

// recentEvents is as many events as the ring keeps.
const recentEvents = 64

func (h *harness) eventsOf(k systemd.Kind) []systemd.Event {
	var out []systemd.Event
	for _, e := range h.d.events.Recent(recentEvents) {
		if e.Kind == k.Name {
			out = append(out, e)
		}
	}
	return out
}

// waitSteps waits until the ladder has taken n steps and returns them.
func (h *harness) waitSteps(n int) []string {
	h.t.Helper()
	eventually(h.t, fmt.Sprintf("%d recovery steps", n), func() bool { return len(h.steps()) >= n })
	return h.steps()
}

func (h *harness) has(call string) bool { return slices.Contains(h.rec.all(), call) }
