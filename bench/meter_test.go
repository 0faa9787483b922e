//go:build bench

package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// meterConfig keeps the meter's state on the shared work directory, which
// outlives the VM (the guest's /var/lib is a tmpfs): a reboot is the VM
// shut down and booted again over the same disk, as on a Pi.
func meterConfig(meter string) string {
	return bench.DaemonConfig("") + "state_dir: /mnt/state\n" + meter
}

// downloadServer serves /mnt/download-size bytes to each connection on
// the internet host's port 8080.
const downloadServer = `exec ip netns exec isp socat TCP-LISTEN:8080,bind=198.51.100.10,fork,reuseaddr SYSTEM:'head -c $(cat /mnt/download-size) /dev/zero'`

type meterBench struct {
	t   *testing.T
	ctx context.Context
	vm  *bench.VM
	n   int // daemons started
}

func (m *meterBench) setup() {
	t, ctx, vm := m.t, m.ctx, m.vm
	waitGuest(t, ctx, vm, 90*time.Second, `systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active bench.target`)
	setupNetworks(t, ctx, vm)
	background(t, ctx, vm, "download-server.log", downloadServer)
	waitGuest(t, ctx, vm, 20*time.Second, `ip netns exec isp ss -Hltn | grep -q '198.51.100.10:8080 '`)
}

// start stops the running daemon cleanly (as systemd does) and starts one
// with cfg, waiting until the LAN reaches the internet through it.
func (m *meterBench) start(cfg string) {
	m.t.Helper()
	m.stop()
	m.n++
	if err := m.vm.StartDaemon(m.ctx, cfg, fmt.Sprintf("failberry-%d.log", m.n)); err != nil {
		m.t.Fatal(err)
	}
	waitGuest(m.t, m.ctx, m.vm, 90*time.Second, bench.LanPing)
}

func (m *meterBench) stop() {
	guest(m.t, m.ctx, m.vm, 40*time.Second, `pkill -TERM -x failberry; while pidof failberry >/dev/null; do sleep 0.2; done`)
}

// download has the LAN host fetch size bytes; it returns what arrived and
// the error of a download that did not complete.
func (m *meterBench) download(size int) (int, error) {
	if err := writeWork(m.vm, "download-size", strconv.Itoa(size)); err != nil {
		m.t.Fatal(err)
	}
	out, err := m.vm.Run(m.ctx, 90*time.Second, `ip netns exec lan socat -T 5 -u TCP:198.51.100.10:8080,connect-timeout=3 - | wc -c`)
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	if err == nil && n != size {
		err = fmt.Errorf("%d of %d bytes arrived", n, size)
	}
	return n, err
}

// counts reads ppp0's counters as `ip -s link` shows them and the meter's
// period in one guest run, after the meter's once-a-second sample.
func (m *meterBench) counts() (linkIn, linkOut uint64, d health.DataStatus) {
	m.t.Helper()
	time.Sleep(2 * time.Second)
	out := guest(m.t, m.ctx, m.vm, 20*time.Second, `ip -j -s link show dev ppp0; echo '#'; /mnt/bin/failberry status --json --config /mnt/failberry.yaml`)
	link, status, _ := strings.Cut(out, "\n#\n")
	var l []struct {
		Stats64 struct {
			RX, TX struct{ Bytes uint64 }
		} `json:"stats64"`
	}
	var st health.Status
	if err := json.Unmarshal([]byte(link), &l); err != nil || len(l) != 1 {
		m.t.Fatalf("ip -j -s link: %v\n%s", err, link)
	}
	if err := json.Unmarshal([]byte(status), &st); err != nil || st.Data == nil {
		m.t.Fatalf("failberry status --json: %v\n%s", err, status)
	}
	return l[0].Stats64.RX.Bytes, l[0].Stats64.TX.Bytes, *st.Data
}

// within1 fails unless got is within 1 % of want.
func within1(t *testing.T, what string, got, want uint64) float64 {
	t.Helper()
	diff := math.Abs(float64(got)-float64(want)) / math.Max(float64(want), 1)
	if diff > 0.01 {
		t.Errorf("%s: the meter says %d, ip -s link %d: %.2f%% apart, want within 1%%", what, got, want, 100*diff)
	}
	return 100 * diff
}

func (m *meterBench) journal(k systemd.Kind) []journalEntry {
	return journalOf(m.t, m.ctx, m.vm, 0, k)
}

// TestMeter is issue 13's meter on the bench: the meter against `ip -s
// link` after a LAN download, across a daemon restart and a reboot, one
// health check's bytes measured on the wire, and a small cap that a LAN
// download reaches: the block, its journal events, the health endpoint
// still answering, and `failberry data reset`.
func TestMeter(t *testing.T) {
	ctx, vm := startVMFor(t, sim.Config{}, true, 8*time.Minute)
	m := &meterBench{t: t, ctx: ctx, vm: vm}
	m.setup()
	m.start(meterConfig(""))

	if _, err := m.download(3_000_000); err != nil {
		t.Fatalf("LAN download: %v", err)
	}
	in, out, d := m.counts()
	t.Logf("meter vs ip -s link after a 3 MB LAN download: in %d vs %d (%.3f%%), out %d vs %d (%.3f%%)",
		d.BytesIn, in, within1(t, "in", d.BytesIn, in), d.BytesOut, out, within1(t, "out", d.BytesOut, out))

	// A restart: pppd is stopped with the daemon, so the new link counts
	// from zero and the meter goes on from what it saved at stop.
	m.start(meterConfig(""))
	before := d
	if _, err := m.download(1_000_000); err != nil {
		t.Fatalf("LAN download after restart: %v", err)
	}
	in, out, d = m.counts()
	t.Logf("after a daemon restart: in %d vs %d+%d (%.3f%%)", d.BytesIn, before.BytesIn, in, within1(t, "in after restart", d.BytesIn, before.BytesIn+in))
	within1(t, "out after restart", d.BytesOut, before.BytesOut+out)

	// A reboot: the daemon stops as systemd stops it at shutdown, the VM
	// goes down and boots again over the same state.
	m.stop()
	before = d
	vm.Close()
	vm2, err := bench.Start(ctx, bench.Options{Work: vm.Work, Bin: ownBin(t, vm), Modem: sim.Config{Seed: time.Now().UnixNano()},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})), Systemd: true})
	if err != nil {
		t.Fatalf("booting the VM again: %v", err)
	}
	t.Cleanup(vm2.Close)
	m.vm = vm2
	m.setup()
	m.start(meterConfig(""))
	in, out, d = m.counts()
	t.Logf("after a reboot: in %d vs %d+%d (%.3f%%)", d.BytesIn, before.BytesIn, in, within1(t, "in after reboot", d.BytesIn, before.BytesIn+in))
	within1(t, "out after reboot", d.BytesOut, before.BytesOut+out)

	t.Run("health-check-bytes", m.healthCheckBytes)
	t.Run("cap", func(t *testing.T) { m.t = t; m.capScenario(d) })
}

// healthCheckBytes measures what one health check costs on the wire: the
// checker's side counts IP bytes both ways of one real HTTP request to the
// real handler, and the gateway's health counter must see the inbound part.
func (m *meterBench) healthCheckBytes(t *testing.T) {
	m.t = t
	const checks = 10
	guest(t, m.ctx, m.vm, 10*time.Second, `ip netns exec isp sh -c 'iptables -I OUTPUT -d 203.0.113.2 -p tcp --dport 9000 && iptables -I INPUT -s 203.0.113.2 -p tcp --sport 9000'`)
	counter := func() uint64 {
		out := guest(t, m.ctx, m.vm, 10*time.Second, `iptables-save -c -t filter | sed -n 's/^\[[0-9]*:\([0-9]*\)\] -A FAILBERRY-INPUT .*-j FAILBERRY-HEALTH$/\1/p'`)
		n, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
		if err != nil {
			t.Fatalf("health counter: %q", out)
		}
		return n
	}
	gw0 := counter()
	guest(t, m.ctx, m.vm, 60*time.Second, fmt.Sprintf(`for i in $(seq %d); do ip netns exec isp curl -sf -o /dev/null -A 'Amazon-Route53-Health-Check-Service (ref bench; report http://amzn.to/1vsZADi)' http://203.0.113.2:9000/cellular || exit 1; done`, checks))
	out := guest(t, m.ctx, m.vm, 10*time.Second, `ip netns exec isp iptables -nvxL OUTPUT | awk '$0 ~ /dpt:9000/ {print $1, $2}'; ip netns exec isp iptables -nvxL INPUT | awk '$0 ~ /spt:9000/ {print $1, $2}'`)
	f := strings.Fields(out)
	if len(f) != 4 {
		t.Fatalf("checker counters: %q", out)
	}
	pkIn, _ := strconv.ParseUint(f[0], 10, 64)
	byIn, _ := strconv.ParseUint(f[1], 10, 64)
	pkOut, _ := strconv.ParseUint(f[2], 10, 64)
	byOut, _ := strconv.ParseUint(f[3], 10, 64)
	gw := counter() - gw0
	t.Logf("one health check (HTTP GET /cellular, measured over %d): %d bytes to the Pi in %.1f packets, %d bytes back in %.1f packets (IP layer); the gateway's health counter saw %d bytes in",
		checks, byIn/checks, float64(pkIn)/checks, byOut/checks, float64(pkOut)/checks, gw/checks)
	if gw != byIn {
		t.Errorf("the gateway's health counter saw %d bytes, the checker sent %d", gw, byIn)
	}
}

// capScenario sets a cap 1.5 MB above what was used, with the block, and
// has the LAN download past it.
func (m *meterBench) capScenario(d health.DataStatus) {
	t := m.t
	used := d.BytesIn + d.BytesOut
	limit := used + 1_500_000
	m.start(meterConfig(fmt.Sprintf("meter:\n  cap: %d\n  warn_at: [%g]\n  cap_action: block\n", limit, float64(used+500_000)/float64(limit))))
	// The download that crosses the cap stalls once the block is in: the
	// LAN side's packets no longer leave.
	n, err := m.download(3_000_000)
	t.Logf("download across the cap: %d bytes arrived (%v)", n, err)
	waitFor(t, 30*time.Second, "the data-cap-reached journal entry (MESSAGE_ID="+systemd.DataCapReached.ID+")", func() bool {
		return len(m.journal(systemd.DataCapReached)) == 1
	})
	if w := m.journal(systemd.DataWarning); len(w) != 1 {
		t.Errorf("%d data-warning journal entries, want 1", len(w))
	}
	// New forwarded connections fail from the LAN host; the health endpoint
	// answers the internet, and the probes still pass (it says 200).
	if out, err := m.vm.Run(m.ctx, 20*time.Second, `ip netns exec lan socat -u TCP:198.51.100.10:80,connect-timeout=3 - </dev/null`); err == nil {
		t.Errorf("a new LAN connection went through the block: %q", out)
	}
	guest(t, m.ctx, m.vm, 30*time.Second, `ip netns exec isp curl -sf -m 5 http://203.0.113.2:9000/cellular`)
	// A restart keeps the block and does not warn again.
	m.stop()
	m.n++
	if err := m.vm.StartDaemon(m.ctx, meterConfig(fmt.Sprintf("meter:\n  cap: %d\n  cap_action: block\n", limit)), fmt.Sprintf("failberry-%d.log", m.n)); err != nil {
		t.Fatal(err)
	}
	waitGuest(t, m.ctx, m.vm, 60*time.Second, `ip netns exec isp curl -sf -m 5 http://203.0.113.2:9000/cellular`)
	if out, err := m.vm.Run(m.ctx, 20*time.Second, `ip netns exec lan socat -u TCP:198.51.100.10:80,connect-timeout=3 - </dev/null`); err == nil {
		t.Errorf("a restart lifted the block: %q", out)
	}
	if c := m.journal(systemd.DataCapReached); len(c) != 1 {
		t.Errorf("%d data-cap-reached entries after a restart, want still 1", len(c))
	}
	guest(t, m.ctx, m.vm, 20*time.Second, `/mnt/bin/failberry data reset --config /mnt/failberry.yaml`)
	waitGuest(t, m.ctx, m.vm, 30*time.Second, `ip netns exec lan socat -u TCP:198.51.100.10:80,connect-timeout=3 - </dev/null | grep -q 204`)
	if l := m.journal(systemd.DataCapLifted); len(l) != 1 || l[0]["FAILBERRY_REASON"] != "reset" {
		t.Errorf("data-cap-lifted entries %v, want one by reset", l)
	}
}

// ownBin is a copy of the programs the VM booted with (its work dir's bin)
// and the shared initramfs: the shared build directory may hold another
// checkout's build by the time the VM boots again.
func ownBin(t *testing.T, vm *bench.VM) string {
	t.Helper()
	dir := t.TempDir()
	initrds, _ := filepath.Glob(filepath.Join(binDir, "initrd-*.gz"))
	srcs, _ := filepath.Glob(filepath.Join(vm.Work, "bin", "*"))
	for _, src := range append(srcs, initrds...) {
		b, err := os.ReadFile(src)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeWork(vm *bench.VM, name, content string) error {
	return os.WriteFile(filepath.Join(vm.Work, name), []byte(content), 0o644)
}
