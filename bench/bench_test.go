//go:build bench

package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
)

// Bench self-tests: they prove the bench itself (VM, emulated hub, simulated
// modem, carrier pppd) before any failberry code is trusted on it.

const chatDial = `chat -v -t 15 '' AT OK ATE0 OK 'AT+CGDCONT=1,"IP","internet"' OK 'ATD*99***1#' CONNECT`

// dialWithChat brings the link up the old way: a plain pppd with a chat script
// on the modem's tty, as the original FailberryPi setup did with wvdial.
func dialWithChat(t *testing.T, ctx context.Context, vm *bench.VM) {
	t.Helper()
	setupNetworks(t, ctx, vm)
	guest(t, ctx, vm, 5*time.Second, `iptables -t nat -A POSTROUTING -o ppp+ -j MASQUERADE && sysctl -qw net.ipv4.ip_forward=1`)
	background(t, ctx, vm, "pppd-client.log", `exec pppd /dev/ttyUSB0 115200 local nocrtscts noauth nodetach noipdefault nodefaultroute `+
		`lcp-echo-interval 1 lcp-echo-failure 3 nodeflate nobsdcomp novj logfd 2 connect "`+strings.ReplaceAll(chatDial, `"`, `\"`)+`"`)
	// pppd sets the address before it sets the interface up: wait for both.
	waitGuest(t, ctx, vm, 30*time.Second, `ip -4 addr show dev ppp0 | grep -q 'inet 203.0.113.2' && ip link show dev ppp0 | grep -q '[<,]UP[,>]'`)
	guest(t, ctx, vm, 5*time.Second, `ip route replace default dev ppp0`)
}

func TestBenchChatDialReachesInternet(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	start := time.Now()
	dialWithChat(t, ctx, vm)
	out := guest(t, ctx, vm, 20*time.Second, `ip netns exec lan ping -c 3 -i 0.3 -W 3 198.51.100.10`)
	if !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("lan -> internet lost packets:\n%s", out)
	}
	// The address the internet host saw must be the gateway's cellular one:
	// the NAT path, not a leak of the LAN address.
	out = guest(t, ctx, vm, 10*time.Second, `conntrack -L -p icmp 2>/dev/null | grep 198.51.100.10 || true`)
	if out != "" && !strings.Contains(out, "dst=203.0.113.2") {
		t.Errorf("reply not addressed to the cellular address:\n%s", out)
	}
	if n := vm.Modem.Snapshot().Calls; n != 1 {
		t.Errorf("modem saw %d calls, want 1", n)
	}
	t.Logf("scenario chat-dial: %v (VM boot %v)", time.Since(start).Round(100*time.Millisecond), vm.Boot.Round(100*time.Millisecond))
}

func TestBenchHubPortPowerCycle(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{BootDelay: 2 * time.Second})
	start := time.Now()
	waitGuest(t, ctx, vm, 20*time.Second, `test -c /dev/ttyUSB0`)
	// Echo off now, so we can tell afterwards that the modem lost its state.
	if out, err := vm.AT(ctx, "/dev/ttyUSB0", "ATE0\r", 5*time.Second); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("ATE0: %q %v", out, err)
	}
	guest(t, ctx, vm, 10*time.Second, `uhubctl -l 1-1 -p 2 -a off`)
	waitGuest(t, ctx, vm, 15*time.Second, `! test -e /dev/ttyUSB0`)
	waitFor(t, 10*time.Second, "simulator sees power off", func() bool { return !vm.Modem.Snapshot().Powered })

	guest(t, ctx, vm, 10*time.Second, `uhubctl -l 1-1 -p 2 -a on`)
	waitGuest(t, ctx, vm, 20*time.Second, `test -c /dev/ttyUSB0`)
	waitFor(t, 10*time.Second, "simulator sees power on", func() bool { return vm.Modem.Snapshot().Powered })
	var out string
	waitFor(t, 20*time.Second, "modem answers AT after its boot delay", func() bool {
		out, _ = vm.AT(ctx, "/dev/ttyUSB0", "AT\r", 2*time.Second)
		return strings.Contains(out, "OK")
	})
	if !strings.Contains(out, "AT\r") {
		t.Errorf("echo is off after the power cycle: the modem kept its state: %q", out)
	}
	t.Logf("scenario power-cycle: %v (VM boot %v)", time.Since(start).Round(100*time.Millisecond), vm.Boot.Round(100*time.Millisecond))
}

func TestBenchHangStopsDataPath(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	start := time.Now()
	dialWithChat(t, ctx, vm)
	guest(t, ctx, vm, 20*time.Second, `ip netns exec lan ping -c 2 -W 3 198.51.100.10`)
	vm.Modem.SetFault(sim.FaultHang)
	out, err := vm.Run(ctx, 20*time.Second, `ip netns exec lan ping -c 3 -i 0.5 -W 1 198.51.100.10`)
	if err == nil {
		t.Fatalf("ping passed through a hung modem:\n%s", out)
	}
	if !strings.Contains(out, "100% packet loss") {
		t.Fatalf("want 100%% loss through a hung modem, got:\n%s", out)
	}
	// The hung modem answers no AT either once the link is gone.
	waitGuest(t, ctx, vm, 20*time.Second, `! pidof pppd >/dev/null || ! ip link show ppp0 >/dev/null 2>&1 || ip netns exec lan sh -c '! ping -c1 -W1 198.51.100.10'`)
	t.Logf("scenario hang: %v (VM boot %v)", time.Since(start).Round(100*time.Millisecond), vm.Boot.Round(100*time.Millisecond))
}
