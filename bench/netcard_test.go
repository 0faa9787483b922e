//go:build bench

package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// A network-card stick on the bench: qemu's usb-net on the hub's port 4
// (the guest's own cdc_ether or rndis_host binds it), its other end a router
// with a DHCP server and NAT to the carrier (guest/stick.sh). One VM boot,
// under systemd for the journal:
//   - `failberry run` with modem.kind netcard brings the LAN host to the
//     internet host through the stick: the lease, the default route via the
//     stick's router, the LAN's ping;
//   - the lease is renewed (T1) and stays past its 20 s;
//   - from the internet side of the stick (its router's network) only the
//     health port answers: other ports the Pi listens on, a closed port and
//     UDP get nothing back, not even a reset;
//   - the stick's router stops forwarding (a black hole, DHCP still
//     answering): the ladder renews the lease, bounces the interface, then
//     cuts the hub port's power; the stick comes back as a new USB device
//     (a new interface) and, its router working again, the LAN reaches the
//     internet once more;
//   - the stick drops off the bus: the ladder finds it gone and cuts the
//     port's power, after which it is back and found again.
func TestNetcardStick(t *testing.T) {
	ctx, vm := startVMFor(t, sim.Config{}, true, 8*time.Minute, func(o *bench.Options) { o.Netcard = true })
	waitGuest(t, ctx, vm, 60*time.Second, `systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active bench.target`)
	t.Cleanup(func() { // registered after startVMFor's: runs before the VM stops
		if t.Failed() {
			out, err := vm.Run(context.Background(), 60*time.Second, `journalctl -u failberry --no-pager -o short-monotonic -n 150`)
			t.Logf("the daemon's journal (%v):\n%s", err, out)
		}
	})
	t.Logf("the stick enumerated as %s", stickUp(t, ctx, vm))

	since := guestNow(t, ctx, vm)
	start := time.Now()
	installUnit(t, ctx, vm, bench.DaemonConfig("  kind: netcard"))
	online := lanReachesInternet(t, ctx, vm, start, 90*time.Second)
	t.Logf("failberry start to the lan reaching the internet through the stick: %v", online.Round(100*time.Millisecond))
	route := guest(t, ctx, vm, 10*time.Second, `ip -4 route show default`)
	if !strings.Contains(route, "default via 192.168.8.1 dev cell0") {
		t.Fatalf("default route %q, want via the stick's router 192.168.8.1 on cell0", route)
	}
	addr := leasedAddr(t, ctx, vm)
	if !strings.HasPrefix(addr, "192.168.8.") {
		t.Fatalf("cell0 has %q, want a lease from 192.168.8.100-150", addr)
	}
	index := guest(t, ctx, vm, 5*time.Second, `cat /sys/class/net/cell0/ifindex`)

	t.Run("lease-renewed", func(t *testing.T) {
		// The kernel drops the address when its 20 s lifetime runs out; it
		// is still there 26 s on only if the daemon renewed the lease.
		time.Sleep(26 * time.Second)
		if got := leasedAddr(t, ctx, vm); got != addr {
			t.Fatalf("26 s into a 20 s lease cell0 has %q, want %q still (no renewal)", got, addr)
		}
		waitGuest(t, ctx, vm, 10*time.Second, bench.LanPing)
	})
	if t.Failed() {
		return
	}

	t.Run("wan-firewall", func(t *testing.T) { wanAnswersOnlyHealth(t, ctx, vm, addr) })

	t.Run("blackhole-power-cycle", func(t *testing.T) {
		offs := portPowerOffs(t, vm)
		guest(t, ctx, vm, 20*time.Second, bench.Script("stick.sh")+" blackhole on")
		if out, err := vm.Run(ctx, 10*time.Second, `ip netns exec lan ping -c 2 -W 1 198.51.100.10`); err == nil {
			t.Fatalf("the lan host still reaches the internet through the stick's black hole:\n%s", out)
		}
		waitFor(t, 180*time.Second, "the stick's hub port power is cut (qemu hub trace)", func() bool {
			return len(portPowerOffs(t, vm)) > len(offs)
		})
		// A stick that is power-cycled boots its router afresh.
		guest(t, ctx, vm, 20*time.Second, bench.Script("stick.sh")+" blackhole off")
		lanReachesInternet(t, ctx, vm, time.Now(), 90*time.Second)
		if got := guest(t, ctx, vm, 5*time.Second, `cat /sys/class/net/cell0/ifindex`); got == index {
			t.Errorf("cell0 has the same ifindex %s after the power cycle: the stick did not re-enumerate", strings.TrimSpace(got))
		}
		steps := recoverySteps(t, ctx, vm, since)
		want := withReason(climb(bench.RedialAttempts, bench.ModemResetAttempts, 1), "path")
		if !stepsMatch(steps, want) {
			t.Fatalf("the stick's recovery steps (journal, MESSAGE_ID=%s):\n%s\nwant:\n%s", systemd.RecoveryStep.ID, stepsText(steps), stepsText(want))
		}
		actions := stepActions(t, ctx, vm, since)
		wantActions := "renew-lease renew-lease interface-down-up power-cycle"
		if actions != wantActions {
			t.Errorf("the steps' actions %q, want %q", actions, wantActions)
		}
		if route := guest(t, ctx, vm, 10*time.Second, `ip -4 route show default`); !strings.Contains(route, "via 192.168.8.1 dev cell0") {
			t.Errorf("default route after recovery %q", route)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("off-the-bus", func(t *testing.T) {
		// Healthy for healthy_after: the ladder starts over.
		time.Sleep(bench.HealthyAfter + 2*time.Second)
		since := guestNow(t, ctx, vm)
		index := guest(t, ctx, vm, 5*time.Second, `cat /sys/class/net/cell0/ifindex`)
		offs := portPowerOffs(t, vm)
		if err := vm.NetcardDropOffBus(time.Second); err != nil {
			t.Fatal(err)
		}
		waitGuest(t, ctx, vm, 20*time.Second, `! test -e /sys/class/net/cell0`)
		waitFor(t, 120*time.Second, "the stick's hub port power is cut (qemu hub trace)", func() bool {
			return len(portPowerOffs(t, vm)) > len(offs)
		})
		lanReachesInternet(t, ctx, vm, time.Now(), 90*time.Second)
		if got := guest(t, ctx, vm, 5*time.Second, `cat /sys/class/net/cell0/ifindex`); got == index {
			t.Errorf("cell0 has the same ifindex after the stick came back")
		}
		steps := recoverySteps(t, ctx, vm, since)
		want := []stepEvent{{Step: "redial", Attempt: 1, Reason: "ppp"}, {Step: "power-cycle", Attempt: 1, Reason: "gone"}}
		if !stepsMatch(steps, want) {
			t.Errorf("a vanished stick's recovery steps (journal, MESSAGE_ID=%s):\n%s\nwant:\n%s", systemd.RecoveryStep.ID, stepsText(steps), stepsText(want))
		}
	})
}

// leasedAddr is cell0's IPv4 address, "" when it has none.
func leasedAddr(t *testing.T, ctx context.Context, vm *bench.VM) string {
	t.Helper()
	out, _ := vm.Run(ctx, 5*time.Second, `ip -4 -o addr show dev cell0 | awk '{print $4}' | cut -d/ -f1`)
	return strings.TrimSpace(out)
}

func portPowerOffs(t *testing.T, vm *bench.VM) []time.Time {
	t.Helper()
	ts, err := vm.PortPowerOffTimes(bench.NetcardHubPort)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// stepActions are the recovery steps' FAILBERRY_ACTION fields since the
// guest time sinceUsec, space-separated.
func stepActions(t *testing.T, ctx context.Context, vm *bench.VM, sinceUsec int64) string {
	t.Helper()
	out := guest(t, ctx, vm, 20*time.Second, fmt.Sprintf(`journalctl --no-pager -o json MESSAGE_ID=%s --since=@%d`, systemd.RecoveryStep.ID, sinceUsec/1e6))
	var acts []string
	for _, line := range strings.Split(out, "\n") {
		var e struct{ FAILBERRY_ACTION string }
		if json.Unmarshal([]byte(line), &e) == nil && e.FAILBERRY_ACTION != "" {
			acts = append(acts, e.FAILBERRY_ACTION)
		}
	}
	return strings.Join(acts, " ")
}

// stickUp plays the far side of the network-card stick (guest/stick.sh): its
// NIC moved into the stick namespace before the bench's networks, then its
// router and DHCP server. It returns the interface the kernel gave the
// stick.
func stickUp(tb testing.TB, ctx context.Context, vm *bench.VM) string {
	tb.Helper()
	guest(tb, ctx, vm, 30*time.Second, bench.Script("stick.sh")+" nic")
	setupNetworks(tb, ctx, vm)
	guest(tb, ctx, vm, 30*time.Second, bench.Script("stick.sh")+" router")
	background(tb, ctx, vm, "stick-udhcpd.log", `exec ip netns exec stick busybox udhcpd -f /run/stick-udhcpd.conf`)
	kernelName := strings.TrimSpace(guest(tb, ctx, vm, 10*time.Second,
		`for d in /sys/class/net/*; do case $(readlink $d/device/driver) in */cdc_ether|*/rndis_host) echo ${d##*/};; esac; done`))
	if kernelName == "" {
		tb.Fatal("the guest has no cdc_ether/rndis_host interface for the usb-net stick")
	}
	return kernelName
}

// wanProbe connects from the stick's network to addr:port with a 2 s
// connect timeout and prints the port, curl's exit status (7 refused, 28
// timed out) and the milliseconds it took.
const wanProbe = `ip netns exec stick sh -c 's=$(date +%%s%%N); curl -s -o /dev/null --connect-timeout 2 http://%[1]s:%[2]d/; rc=$?; echo %[2]d $rc $(( ($(date +%%s%%N) - s) / 1000000 ))'`

// wanAnswersOnlyHealth: from the stick's network (the internet side of
// cell0) the health port answers with an HTTP status, and nothing else
// does: every other TCP port the Pi listens on beyond loopback (a throwaway
// listener on 2222 among them, proven open from the Pi itself), the
// loopback-bound status port, a closed port (which the Pi itself refuses
// with a reset) and UDP (a listener that gets the Pi's own datagram but not
// the stick side's, a closed port that the Pi itself answers with a port
// unreachable) all time out: the input chain drops, it does not reject.
func wanAnswersOnlyHealth(t *testing.T, ctx context.Context, vm *bench.VM, addr string) {
	tcp := background(t, ctx, vm, "fw-tcp.log", `exec socat TCP-LISTEN:2222,fork,reuseaddr SYSTEM:"echo open"`)
	udp := background(t, ctx, vm, "fw-udp.log", `exec socat -u UDP-RECV:2223 STDOUT`)
	t.Cleanup(func() { vm.Run(context.Background(), 5*time.Second, fmt.Sprintf(`kill %d %d`, tcp, udp)) })
	waitGuest(t, ctx, vm, 10*time.Second, `ss -Hltn 'sport = :2222' | grep -q . && ss -Hlun 'sport = :2223' | grep -q .`)

	// The controls, from the Pi itself to cell0's address (not through the
	// WAN input chain): the listeners listen, a closed port resets and a
	// closed UDP port is refused, so silence from the stick side is the
	// firewall's.
	if out := guest(t, ctx, vm, 10*time.Second, `socat -T 3 - TCP:`+addr+`:2222 </dev/null`); !strings.Contains(out, "open") {
		t.Fatalf("the throwaway listener does not answer on %s:2222 from the Pi itself: %q", addr, out)
	}
	if out := guest(t, ctx, vm, 10*time.Second, `curl -s -o /dev/null --connect-timeout 2 http://`+addr+`:23/; echo $?`); strings.TrimSpace(out) != "7" {
		t.Fatalf("a closed port on the Pi itself: curl exit %q, want 7 (refused)", strings.TrimSpace(out))
	}
	if out, err := vm.Run(ctx, 10*time.Second, `echo x | socat -T 2 - UDP:`+addr+`:2224`); err == nil {
		t.Fatalf("a closed UDP port on the Pi itself is not refused:\n%s", out)
	}
	guest(t, ctx, vm, 10*time.Second, `echo self | socat -u - UDP-SENDTO:`+addr+`:2223`)

	// What the Pi listens on beyond loopback (its daemons, sshd if running,
	// the throwaway listener), the loopback-bound status port and a closed one.
	ports := map[int]bool{9001: true, 23: true}
	for _, f := range strings.Fields(guest(t, ctx, vm, 10*time.Second, `ss -Hltn | awk '{print $4}'`)) {
		i := strings.LastIndex(f, ":")
		if i < 0 {
			continue
		}
		host, p := f[:i], f[i+1:]
		if n, err := strconv.Atoi(p); err == nil && n != 9000 && !strings.HasPrefix(host, "127.") && host != "[::1]" {
			ports[n] = true
		}
	}
	if !ports[2222] {
		t.Fatalf("ss does not list the throwaway listener on 2222")
	}
	var probes []string
	for p := range ports {
		probes = append(probes, fmt.Sprintf(wanProbe, addr, p)+" &")
	}
	slices.Sort(probes)
	out := guest(t, ctx, vm, 30*time.Second, strings.Join(probes, "\n")+"\nwait")
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var port, rc, ms int
		if _, err := fmt.Sscan(line, &port, &rc, &ms); err != nil {
			t.Fatalf("probe output %q: %v", line, err)
		}
		seen++
		t.Logf("from the stick's network to %s:%d: curl exit %d after %d ms", addr, port, rc, ms)
		if rc != 28 || ms < 1900 {
			t.Errorf("tcp port %d from the internet side: curl exit %d after %d ms, want a timeout (28, about 2 s): no answer at all", port, rc, ms)
		}
	}
	if seen != len(ports) {
		t.Errorf("%d probe results for %d ports:\n%s", seen, len(ports), out)
	}
	code := strings.TrimSpace(guest(t, ctx, vm, 15*time.Second,
		`ip netns exec stick curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://`+addr+`:9000/cellular || true`))
	t.Logf("from the stick's network to %s:9000/cellular: HTTP %s", addr, code)
	if n, err := strconv.Atoi(code); err != nil || n < 100 || n > 599 {
		t.Errorf("the health port from the internet side: %q, want an HTTP status", code)
	}

	// UDP: three datagrams to the listener, one to a closed port.
	guest(t, ctx, vm, 10*time.Second, `for i in 1 2 3; do echo wan | ip netns exec stick socat -u - UDP-SENDTO:`+addr+`:2223; done`)
	if out, err := vm.Run(ctx, 10*time.Second, `echo x | ip netns exec stick socat -T 2 - UDP:`+addr+`:2224`); err != nil {
		t.Errorf("a closed UDP port from the internet side answered (port unreachable), want silence: %v\n%s", err, out)
	}
	got := guest(t, ctx, vm, 10*time.Second, `sleep 1; cat /mnt/fw-udp.log`)
	if !strings.Contains(got, "self") {
		t.Fatalf("the UDP listener did not get the Pi's own datagram: %q", got)
	}
	if strings.Contains(got, "wan") {
		t.Errorf("the UDP listener on 2223 got datagrams from the internet side: %q", got)
	}
}
