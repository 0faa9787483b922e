//go:build bench

package bench_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
)

// The split-mode scenario of TestInbound (issue 20): the Pi's own traffic
// stays on the wired path while it works, what the Pi forwards for the LAN
// goes over cellular, and the Pi's own traffic moves to cellular while the
// main router's uplink is cut and back when it returns. Everything is
// measured in the guest: the cellular link's counters, the router's uplink
// counters, the kernel's rules and routes.

const (
	// splitDownload is what the Pi fetches from the internet host over the
	// wired path (fast), splitCellDownload what goes over the bench's
	// cellular link, which carries about 50 kB/s.
	splitDownload     = 5_000_000
	splitCellDownload = 1_000_000
	splitPort         = 8099
	// splitSlack is what the cellular link may carry besides a download
	// that does not use it: probes, health checks, LCP echoes.
	splitSlack = 200_000
)

func (in *inbound) splitOwnTraffic(t *testing.T) {
	ctx, vm := in.ctx, in.vm
	background(t, ctx, vm, "split-source.log", fmt.Sprintf(
		`exec ip netns exec isp socat -U TCP-LISTEN:%d,reuseaddr,fork SYSTEM:'head -c $(cat /mnt/split-size) /dev/zero'`, splitPort))
	guest(t, ctx, vm, 5*time.Second, `ip -n lan route replace default via 192.168.7.1`)
	in.startDaemon(inboundConfig(inboundFirewall, "") + "route:\n  mode: split\n")
	in.awaitCellAddr(t, in.cell, 90*time.Second)
	waitGuest(t, ctx, vm, 60*time.Second, bench.LanPing)
	waitGuest(t, ctx, vm, 20*time.Second, `ip rule show priority 10331 | grep -q 'iif eth0 lookup 10302'`)
	if out := guest(t, ctx, vm, 5*time.Second, `ip route show default`); strings.Contains(out, "ppp") || !strings.Contains(out, "via "+mainRouter) {
		t.Fatalf("split mode: the main table's default route is %q, want the main router's alone", strings.TrimSpace(out))
	}
	in.awaitCode(t, "wired check, split mode", in.wiredURL(), true, 20*time.Second)
	in.awaitCode(t, "cellular check, split mode", in.cellularURL(), true, 20*time.Second)

	// Wired up: the Pi's own download leaves by the main router; the LAN's
	// goes over cellular.
	own := in.download(t, "the Pi's own download, wired up", "", splitDownload)
	if own.cell > splitSlack || own.wired < splitDownload {
		t.Errorf("wired up: the Pi's own %d-byte download moved ppp0 by %d bytes and the router's uplink by %d; want under %d and over %d",
			splitDownload, own.cell, own.wired, splitSlack, splitDownload)
	}
	lan := in.download(t, "the LAN host's download, wired up", "ip netns exec lan ", splitCellDownload)
	if lan.cell < splitCellDownload {
		t.Errorf("wired up: the LAN host's %d-byte download moved ppp0 by only %d bytes: it did not go over cellular", splitCellDownload, lan.cell)
	}
	t.Logf("wired up: the Pi's own download moved ppp0 by %d bytes, the router's uplink by %d; the LAN host's moved ppp0 by %d",
		own.cell, own.wired, lan.cell)

	// Wired cut: the Pi's own traffic follows to cellular.
	cut := time.Now()
	guest(t, ctx, vm, 5*time.Second, `ip -n router link set wan0 down`)
	restored := false
	restore := func() {
		if !restored {
			restored = true
			guest(t, ctx, vm, 5*time.Second, `ip -n router link set wan0 up && ip -n router route replace default via 192.0.2.1`)
		}
	}
	defer restore()
	waitGuest(t, ctx, vm, 60*time.Second, `ip rule show priority 10334 | grep -q 'lookup 10302'`)
	moved := time.Since(cut)
	own = in.download(t, "the Pi's own download, wired cut", "", splitCellDownload)
	if own.cell < splitCellDownload {
		t.Errorf("wired cut: the Pi's own download moved ppp0 by only %d bytes", own.cell)
	}
	t.Logf("scenario split-wired-cut: the Pi's own traffic on cellular %v after the cut", moved.Round(100*time.Millisecond))

	// Wired back: the Pi's own traffic returns.
	restore()
	back := time.Now()
	waitGuest(t, ctx, vm, 60*time.Second, `! ip rule show | grep -q '^10334:'`)
	t.Logf("scenario split-wired-back: the Pi's own traffic back on wired %v after the uplink returned", since(back))
	own = in.download(t, "the Pi's own download, wired back", "", splitDownload)
	if own.cell > splitSlack {
		t.Errorf("wired back: the Pi's own download moved ppp0 by %d bytes, want under %d", own.cell, splitSlack)
	}
}

// moved is how many bytes a download moved on ppp0 (received) and on the
// main router's uplink (wan0, received).
type moved struct{ cell, wired int64 }

// download fetches size bytes from the internet host with prefix (empty:
// the Pi itself) and returns what the links' counters moved.
func (in *inbound) download(t *testing.T, what, prefix string, size int) moved {
	t.Helper()
	if err := os.WriteFile(filepath.Join(in.vm.Work, "split-size"), []byte(strconv.Itoa(size)), 0o644); err != nil {
		t.Fatal(err)
	}
	counters := func() moved {
		out := guest(t, in.ctx, in.vm, 5*time.Second,
			`cat /sys/class/net/ppp0/statistics/rx_bytes; ip netns exec router cat /sys/class/net/wan0/statistics/rx_bytes`)
		f := strings.Fields(out)
		if len(f) != 2 {
			t.Fatalf("%s: counters %q", what, out)
		}
		c, err1 := strconv.ParseInt(f[0], 10, 64)
		w, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: counters %q", what, out)
		}
		return moved{c, w}
	}
	before := counters()
	start := time.Now()
	out := guest(t, in.ctx, in.vm, 90*time.Second, fmt.Sprintf(`%ssocat -T 10 -u TCP:%s:%d,connect-timeout=5 - | wc -c`, prefix, checker, splitPort))
	if n, _ := strconv.Atoi(strings.TrimSpace(out)); n != size {
		t.Fatalf("%s: got %s bytes, want %d", what, strings.TrimSpace(out), size)
	}
	t.Logf("%s: %d bytes in %v", what, size, since(start))
	after := counters()
	return moved{after.cell - before.cell, after.wired - before.wired}
}
