//go:build bench

package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
)

// networkManagerCheck: on a Raspberry Pi OS guest, NetworkManager manages
// eth0 by DHCP (a 2-minute lease from the LAN's router, guest/topology.sh)
// while failberry runs in replace mode (the bench's config has no routing
// section). Over FAILBERRY_BENCH_NM_MINUTES (10) online, sampled every few
// seconds in the guest: the internet host's route is ppp0's at every sample
// and the gateway's pppd and ppp0 stay the same (no redial: nobody touched
// them), while the LAN's router saw eth0's lease renewed (NetworkManager was
// at work all along); NetworkManager never names the modem's tty, and no
// ModemManager is installed. When failberry stops, NetworkManager's default
// route via the LAN's router is back.
func networkManagerCheck(t *testing.T, ctx context.Context, vm *bench.VM, slow time.Duration) {
	t.Helper()
	guest(t, ctx, vm, slow*30*time.Second, `systemctl is-active NetworkManager && ! dpkg-query -W -f='${Status}' modemmanager 2>/dev/null | grep -q 'ok installed'`)
	state := guest(t, ctx, vm, slow*30*time.Second, `nmcli -t -f DEVICE,STATE device`)
	t.Logf("scenario nm (%s): nmcli device: %s", vm.Arch(), strings.Join(strings.Fields(state), " "))
	if !strings.Contains(state, "eth0:connected") {
		t.Fatalf("NetworkManager does not manage eth0 (nmcli device: %s)", state)
	}
	ours := func() string { // the gateway's pppd (the carrier's runs on ttyS1) and ppp0's index
		return strings.TrimSpace(guest(t, ctx, vm, slow*10*time.Second, `echo $(for p in $(pidof pppd); do grep -q ttyS1 /proc/$p/cmdline || echo $p; done) $(cat /sys/class/net/ppp0/ifindex)`))
	}
	before := ours()
	acks := func() int {
		b, _ := os.ReadFile(filepath.Join(vm.Work, "dnsmasq.log"))
		return strings.Count(string(b), "DHCPACK(lan0) 192.168.7.1 ")
	}
	acks0 := acks()
	minutes := envInt("FAILBERRY_BENCH_NM_MINUTES", 10)
	end := time.Now().Add(time.Duration(minutes) * time.Minute)
	samples, nmRoute, changes, last := 0, 0, 0, ""
	for time.Now().Before(end) {
		out := guest(t, ctx, vm, slow*10*time.Second, `ip -4 route get 198.51.100.10 | head -1; ip -4 route show default | tr '\n' ';'`)
		lines := strings.SplitN(out, "\n", 2)
		if !strings.Contains(lines[0], " dev ppp0 ") {
			t.Fatalf("after %d samples the internet host's route is %q, not ppp0's (defaults: %s)", samples, lines[0], out)
		}
		defaults := strings.TrimSpace(lines[len(lines)-1])
		if strings.Contains(defaults, "dev eth0") {
			nmRoute++
		}
		if samples > 0 && defaults != last {
			changes++
		}
		samples, last = samples+1, defaults
		time.Sleep(3 * time.Second)
	}
	after := ours()
	if after != before {
		t.Errorf("the gateway's pppd and ppp0 changed over the %d minutes (pid and ifindex %q, then %q)", minutes, before, after)
	}
	renewals := acks() - acks0
	t.Logf("scenario nm (%s): %d min online, %d samples: ppp0 carried the route at every one; eth0's lease renewed %d times; a default via eth0 seen in %d samples, the default routes changed %d times",
		vm.Arch(), minutes, samples, renewals, nmRoute, changes)
	if renewals < minutes/2 {
		t.Errorf("eth0's 2-minute lease was renewed %d times in %d minutes: NetworkManager was not at work", renewals, minutes)
	}
	if tty := guest(t, ctx, vm, slow*30*time.Second, `journalctl -u NetworkManager --no-pager -o cat | grep -E 'ttyUSB|ttyACM|cdc-wdm' || true`); strings.TrimSpace(tty) != "" {
		t.Errorf("NetworkManager's journal names the modem:\n%s", tty)
	}

	guest(t, ctx, vm, slow*60*time.Second, `systemctl stop failberry`)
	stopped := time.Now()
	waitGuest(t, ctx, vm, slow*30*time.Second, `ip -4 route show default | grep -q 'via 192.168.7.254 dev eth0'`)
	t.Logf("scenario nm (%s): failberry stopped -> NetworkManager's default route via eth0 back in %v", vm.Arch(), since(stopped))
}
