//go:build bench

package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	guest(t, ctx, vm, 30*time.Second, bench.Script("stick.sh")+" nic")
	setupNetworks(t, ctx, vm)
	guest(t, ctx, vm, 30*time.Second, bench.Script("stick.sh")+" router")
	background(t, ctx, vm, "stick-udhcpd.log", `exec ip netns exec stick busybox udhcpd -f /run/stick-udhcpd.conf`)
	kernelName := strings.TrimSpace(guest(t, ctx, vm, 10*time.Second,
		`for d in /sys/class/net/*; do case $(readlink $d/device/driver) in */cdc_ether|*/rndis_host) echo ${d##*/};; esac; done`))
	if kernelName == "" {
		t.Fatal("the guest has no cdc_ether/rndis_host interface for the usb-net stick")
	}
	t.Logf("the stick enumerated as %s", kernelName)

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
