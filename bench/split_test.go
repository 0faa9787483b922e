//go:build bench

package bench_test

import (
	"encoding/json"
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
	in.startDaemon(inboundConfig(inboundFirewall, "") + "route:\n  mode: split\nprimary:\n  hold: 3s\n")
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
	if lan.own > splitSlack {
		t.Errorf("wired up: the LAN host's download moved the firewall's own-traffic counter by %d bytes, want under %d: forwarded bytes count as the Pi's", lan.own, splitSlack)
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
	if own.cell < splitCellDownload || own.own < splitCellDownload {
		t.Errorf("wired cut: the Pi's own download moved ppp0 by only %d bytes, the own-traffic counter by %d", own.cell, own.own)
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
	in.meterSplit(t)
}

// meterSplit: the data meter shows the Pi's own cellular bytes (its
// download while the wired path was cut) apart from the forwarded ones
// (the LAN host's download). It reads the firewall's counters once a
// minute, so this waits for that.
func (in *inbound) meterSplit(t *testing.T) {
	t.Helper()
	type meterData struct {
		In  uint64 `json:"bytes_in"`
		Out uint64 `json:"bytes_out"`
		Own uint64 `json:"bytes_own"`
	}
	var data meterData
	deadline := time.Now().Add(90 * time.Second)
	for {
		out := guest(t, in.ctx, in.vm, 10*time.Second, `/mnt/bin/failberry status --json --config /mnt/failberry.yaml`)
		var st struct {
			Data *meterData `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil || st.Data == nil {
			t.Fatalf("failberry status --json: no data section (%v):\n%s", err, out)
		}
		data = *st.Data
		if data.Own >= splitCellDownload || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	fwd := data.In + data.Out - min(data.Own, data.In+data.Out)
	if data.Own < splitCellDownload || fwd < splitCellDownload {
		t.Errorf("data meter: the Pi's own %d bytes, forwarded %d (in %d, out %d); want each over %d (one download each over cellular)",
			data.Own, fwd, data.In, data.Out, splitCellDownload)
	}
	t.Logf("data meter: cellular in %d, out %d; the Pi's own %d, forwarded %d", data.In, data.Out, data.Own, fwd)
}

// moved is how many bytes a download moved on ppp0 (received), on the
// main router's uplink (wan0, received) and on the firewall's counter of
// the Pi's own traffic coming in over cellular (the jump into
// FAILBERRY-OWN in FAILBERRY-INPUT, what the meter reads).
type moved struct{ cell, wired, own int64 }

// download fetches size bytes from the internet host with prefix (empty:
// the Pi itself) and returns what the links' counters moved.
func (in *inbound) download(t *testing.T, what, prefix string, size int) moved {
	t.Helper()
	if err := os.WriteFile(filepath.Join(in.vm.Work, "split-size"), []byte(strconv.Itoa(size)), 0o644); err != nil {
		t.Fatal(err)
	}
	counters := func() moved {
		out := guest(t, in.ctx, in.vm, 5*time.Second,
			`cat /sys/class/net/ppp0/statistics/rx_bytes; ip netns exec router cat /sys/class/net/wan0/statistics/rx_bytes; `+
				`iptables -w -nvxL FAILBERRY-INPUT | awk '$3 == "FAILBERRY-OWN" { print $2 }'`)
		f := strings.Fields(out)
		if len(f) != 3 {
			t.Fatalf("%s: counters %q", what, out)
		}
		var n [3]int64
		for i := range n {
			v, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				t.Fatalf("%s: counters %q", what, out)
			}
			n[i] = v
		}
		return moved{n[0], n[1], n[2]}
	}
	before := counters()
	start := time.Now()
	out := guest(t, in.ctx, in.vm, 90*time.Second, fmt.Sprintf(`%ssocat -T 30 -u TCP:%s:%d,connect-timeout=5 - | wc -c`, prefix, checker, splitPort))
	if n, _ := strconv.Atoi(strings.TrimSpace(out)); n != size {
		t.Fatalf("%s: got %s bytes, want %d", what, strings.TrimSpace(out), size)
	}
	t.Logf("%s: %d bytes in %v", what, size, since(start))
	after := counters()
	return moved{after.cell - before.cell, after.wired - before.wired, after.own - before.own}
}
