//go:build bench

package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
)

func benchRecovery() string { return bench.RecoverySection }

// benchConfigWith is the bench's daemon config with extra modem lines.
func benchConfigWith(extraModem string) string { return bench.DaemonConfig(extraModem) }

// startDaemon writes the config into the VM's work dir and starts
// `failberry run` in the background; its log is failberry.log.
func startDaemon(t *testing.T, ctx context.Context, vm *bench.VM, extraModem string) time.Time {
	t.Helper()
	start := time.Now()
	if err := vm.StartDaemon(ctx, benchConfigWith(extraModem), "failberry.log"); err != nil {
		t.Fatal(err)
	}
	return start
}

// lanReachesInternet waits until the lan host pings the internet host through
// the gateway and returns how long that took from since.
func lanReachesInternet(t *testing.T, ctx context.Context, vm *bench.VM, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	waitGuest(t, ctx, vm, within, bench.LanPing)
	return time.Since(since)
}

func pppdPids(t *testing.T, ctx context.Context, vm *bench.VM) []string {
	t.Helper()
	// The carrier's pppd runs on ttyS1; the gateway's has no device argument.
	out, _ := vm.Run(ctx, 5*time.Second, `for p in $(pidof pppd); do grep -q ttyS1 /proc/$p/cmdline || echo $p; done`)
	return strings.Fields(out)
}

// firstLCPBound is under pppd's 1 s connect-delay, with the margin a
// loaded emulated guest needs to parse the release options and set up the
// line.
const firstLCPBound = 900 * time.Millisecond

func TestDaemonDialsAndRedials(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	setupNetworks(t, ctx, vm)
	start := startDaemon(t, ctx, vm, "")
	online := lanReachesInternet(t, ctx, vm, start, 60*time.Second)
	t.Logf("scenario daemon-online: failberry run -> lan reaches internet in %v", online.Round(100*time.Millisecond))
	// pppd speaks first once released at CONNECT: the bench's carrier, like
	// a network that waits for the subscriber, never does. pppd's default
	// connect-delay would leave the line silent for a second first.
	if first := vm.Modem.Snapshot().FirstLCP; first == 0 || first >= firstLCPBound {
		t.Errorf("CONNECT to pppd's first LCP frame took %v, want under %v", first, firstLCPBound)
	} else {
		t.Logf("CONNECT -> pppd's first LCP frame: %v", first.Round(time.Millisecond))
	}

	out := guest(t, ctx, vm, 10*time.Second, `/mnt/bin/failberry status --config /mnt/failberry.yaml`)
	for _, want := range []string{"online", "203.0.113.2", "Bench Mobile"} {
		if !strings.Contains(out, want) {
			t.Errorf("failberry status lacks %q:\n%s", want, out)
		}
	}
	// The public endpoint answers on the cellular address, as Route 53 sees it.
	guest(t, ctx, vm, 10*time.Second, `ip netns exec isp sh -c 'printf "GET /cellular HTTP/1.0\r\n\r\n" | socat -t 5 - TCP:203.0.113.2:9000 | grep -q "200 OK"'`)

	// IPv6 router advertisements are taken on the cellular link although the
	// gateway forwards.
	if ra := strings.TrimSpace(guest(t, ctx, vm, 5*time.Second, `cat /proc/sys/net/ipv6/conf/ppp0/accept_ra`)); ra != "2" {
		t.Errorf("ppp0 accept_ra = %s, want 2", ra)
	}
	// A default route deleted behind the daemon's back is put back.
	guest(t, ctx, vm, 5*time.Second, `ip route del default`)
	lanReachesInternet(t, ctx, vm, time.Now(), 20*time.Second)

	// Online, the modem's only port carries PPP: AT is refused, not forced.
	if out, err := vm.Run(ctx, 20*time.Second, `/mnt/bin/failberry at --config /mnt/failberry.yaml 'AT+CSQ'`); err == nil || !strings.Contains(out, "online") {
		t.Errorf("failberry at while online: want a refusal, got %v: %s", err, out)
	}
	pids := pppdPids(t, ctx, vm)
	if len(pids) != 1 {
		t.Fatalf("want one gateway pppd, got %v", pids)
	}
	killed := time.Now()
	guest(t, ctx, vm, 5*time.Second, "kill -9 "+pids[0])
	back := lanReachesInternet(t, ctx, vm, killed, 60*time.Second)
	t.Logf("scenario pppd-kill: kill -9 pppd -> lan reaches internet again in %v", back.Round(100*time.Millisecond))
	if p := pppdPids(t, ctx, vm); len(p) != 1 || p[0] == pids[0] {
		t.Errorf("after the kill want one new pppd, got %v (old %s)", p, pids[0])
	}
	if n := vm.Modem.Snapshot().Calls; n != 2 {
		t.Errorf("modem saw %d calls, want 2 (dial, redial)", n)
	}
	t.Run("daemon-dies-while-pppd-held", func(t *testing.T) { heldPPPDOutlivesNoDaemon(t, ctx, vm) })
}

// heldPPPDOutlivesNoDaemon: pppd starts held before ATD (pppd.Start);
// when the daemon dies before CONNECT, its end of the hold goes with it.
// The orphan must give up without running PPP on a line that nobody
// supervises: no ppp0, no byte of it through the call the network then
// connects.
func heldPPPDOutlivesNoDaemon(t *testing.T, ctx context.Context, vm *bench.VM) {
	guest(t, ctx, vm, 30*time.Second, `pkill -x failberry; while pidof failberry >/dev/null || ip link show ppp0 >/dev/null 2>&1; do sleep 0.1; done`)
	vm.Modem.DropDTR()
	const connectDelay = 6 * time.Second
	vm.Modem.SetConnectDelay(connectDelay)
	calls := vm.Modem.Snapshot().Calls
	background(t, ctx, vm, "held-monitor.log", `ip -ts monitor link`)
	background(t, ctx, vm, "failberry-held.log", `/mnt/bin/failberry run --config /mnt/failberry.yaml`)
	var held []string
	waitFor(t, 60*time.Second, "the daemon's held pppd", func() bool {
		held = pppdPids(t, ctx, vm)
		return len(held) == 1
	})
	killed := time.Now()
	guest(t, ctx, vm, 5*time.Second, `kill -9 $(pidof failberry)`)
	waitGuest(t, ctx, vm, 20*time.Second, `! kill -0 `+held[0]+` 2>/dev/null`)
	t.Logf("the held pppd %s ended %v after its daemon's SIGKILL", held[0], time.Since(killed).Round(100*time.Millisecond))
	// The network connects the call the daemon asked for; nothing speaks PPP on it.
	waitFor(t, connectDelay+10*time.Second, "the network's CONNECT", func() bool { return vm.Modem.Snapshot().Calls > calls })
	time.Sleep(2 * time.Second)
	if st := vm.Modem.Snapshot(); st.BytesUp != 0 {
		t.Errorf("%d bytes went up the call after the daemon died: the held pppd ran PPP", st.BytesUp)
	}
	if mon := guest(t, ctx, vm, 5*time.Second, `cat /mnt/held-monitor.log`); strings.Contains(mon, "ppp0") {
		t.Errorf("ppp0 appeared after the daemon died:\n%s", mon)
	}
	if p := pppdPids(t, ctx, vm); len(p) != 0 {
		t.Errorf("pppd left behind: %v", p)
	}
}

func TestDaemonSIMRemovedNeverPowerCycles(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	vm.Modem.SetFault(sim.FaultSIMRemoved)
	setupNetworks(t, ctx, vm)
	startDaemon(t, ctx, vm, "")
	var out string
	waitFor(t, 60*time.Second, "status reports the missing SIM", func() bool {
		out, _ = vm.Run(ctx, 10*time.Second, `/mnt/bin/failberry status --config /mnt/failberry.yaml`)
		return strings.Contains(out, "SIM not inserted")
	})
	t.Logf("status:\n%s", out)
	// Between retries the modem is idle: `failberry at` goes through the daemon.
	at := guest(t, ctx, vm, 40*time.Second, `/mnt/bin/failberry at --config /mnt/failberry.yaml 'AT+CSQ'`)
	if !strings.Contains(at, "+CSQ: 20,99") || !strings.Contains(at, "OK") {
		t.Errorf("failberry at AT+CSQ: %q", at)
	}
	time.Sleep(10 * time.Second) // a wrong ladder would reach the power cycle by now
	if n := powerOffs(t, vm); n != 0 {
		t.Fatalf("a SIM problem led to %d USB power cuts", n)
	}
	log, _ := os.ReadFile(filepath.Join(vm.Work, "failberry.log"))
	if n := strings.Count(string(log), `msg="sim-error`); n > 2 {
		t.Errorf("retried %d times in 10 s: a SIM problem must retry slowly", n)
	}
}

func TestDaemonWrongPINSentOnce(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{PIN: "1234", PUK: "12345678"})
	setupNetworks(t, ctx, vm)
	startDaemon(t, ctx, vm, "  pin: \"4321\"")
	waitFor(t, 60*time.Second, "the wrong PIN is tried", func() bool { return vm.Modem.Snapshot().PINTries >= 1 })
	// A restarted daemon (as systemd would do) must not try it again either.
	time.Sleep(3 * time.Second)
	guest(t, ctx, vm, 10*time.Second, `pkill -x failberry; sleep 1`)
	background(t, ctx, vm, "failberry-2.log", `exec /mnt/bin/failberry run --config /mnt/failberry.yaml`)
	var out string
	waitFor(t, 30*time.Second, "status reports the rejected PIN", func() bool {
		out, _ = vm.Run(ctx, 10*time.Second, `/mnt/bin/failberry status --config /mnt/failberry.yaml`)
		return strings.Contains(out, "PIN")
	})
	st := vm.Modem.Snapshot()
	if st.PINTries != 1 {
		t.Fatalf("the SIM saw %d PIN attempts, want exactly 1 (attempts left %d)", st.PINTries, st.PINAttemptsLeft)
	}
	t.Logf("status after restart:\n%s", out)
}

// powerOffs counts the ClearPortFeature(PORT_POWER) requests qemu's hub saw
// for the modem's port.
func powerOffs(t *testing.T, vm *bench.VM) int {
	t.Helper()
	trace, err := os.ReadFile(filepath.Join(vm.Work, "qemu-trace.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("usb_hub_clear_port_feature dev 1, port %d, feature power", bench.ModemHubPort)
	return strings.Count(string(trace), want)
}
