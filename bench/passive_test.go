//go:build bench

package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
)

// Passive detection on the bench: the daemon with the default probe
// settings, only the targets pointed at the bench's internet host (a second
// address on it, so the default quorum of 2 of 3 has two ICMP targets).

const passiveTargets = `    targets: ["icmp:198.51.100.10", "icmp:198.51.100.11", "tcp:198.51.100.10:80"]
`

// defaultProbesConfig is the bench's daemon config with the probes section
// back to the defaults, targets aside.
func defaultProbesConfig(tb testing.TB) string {
	tb.Helper()
	cfg := bench.DaemonConfig("")
	i := strings.Index(cfg, "  probes:\n")
	end := "    budget_bytes_per_day: 0\n"
	j := strings.Index(cfg, end)
	if i < 0 || j < i {
		tb.Fatalf("the bench config has no probes section to replace:\n%s", cfg)
	}
	return cfg[:i] + "  probes:\n" + passiveTargets + cfg[j+len(end):]
}

// streamServer serves a slow stream from the internet host on port 8080:
// 2000 bytes every 0.1 s (about 20 kB/s), pausing while /tmp/stall exists.
// No ':' in the command: socat's address parser splits SYSTEM's argument
// at it (an earlier "while :" served nothing at all).
const streamServer = `exec ip netns exec isp socat TCP-LISTEN:8080,bind=198.51.100.10,fork,reuseaddr ` +
	`SYSTEM:'while true; do if [ -e /tmp/stall ]; then sleep 0.1; continue; fi; head -c 2000 /dev/zero; sleep 0.1; done'`

// lanStream is the LAN host downloading that stream through the gateway.
const lanStream = `exec ip netns exec lan socat -u TCP:198.51.100.10:8080,connect-timeout=5 OPEN:/dev/null`

// carrierCount counts, in the isp namespace, what the carrier's ppp
// interfaces carry (every IP packet to, from and through the gateway) and
// the echo requests to the second internet address, which only the probes
// use. "zero" resets the counters.
const carrierCount = `ip netns exec isp sh -c '
iptables -w -n -L BENCH-COUNT >/dev/null 2>&1 || {
  iptables -w -N BENCH-COUNT
  iptables -w -A BENCH-COUNT -p icmp --icmp-type echo-request -d 198.51.100.11 -m comment --comment probe11
  iptables -w -A BENCH-COUNT -m comment --comment all
  iptables -w -I INPUT -i ppp+ -j BENCH-COUNT
  iptables -w -I OUTPUT -o ppp+ -j BENCH-COUNT
  iptables -w -I FORWARD -i ppp+ -j BENCH-COUNT
  iptables -w -I FORWARD -o ppp+ -j BENCH-COUNT
}
[ "$1" = zero ] && iptables -w -Z BENCH-COUNT
iptables -w -nvxL BENCH-COUNT' sh`

// counts are the carrier's counters: packets and bytes (IP) of all, and
// the probes' echo requests to the second address.
type counts struct{ pkts, bytes, probe11 int64 }

func readCounts(tb testing.TB, ctx context.Context, vm *bench.VM, zero bool) counts {
	tb.Helper()
	arg := "read"
	if zero {
		arg = "zero"
	}
	out, err := vm.Run(ctx, 30*time.Second, carrierCount+" "+arg)
	if err != nil {
		tb.Fatalf("carrier counters: %v\n%s", err, out)
	}
	var c counts
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		p, perr := strconv.ParseInt(f[0], 10, 64)
		b, berr := strconv.ParseInt(f[1], 10, 64)
		if perr != nil || berr != nil {
			continue
		}
		switch {
		case strings.Contains(l, "/* probe11 */"):
			c.probe11 = p
		case strings.Contains(l, "/* all */"):
			c.pkts, c.bytes = p, b
		}
	}
	return c
}

// passiveBench is one VM with the daemon running on the default probes,
// the second internet address and the stream server.
type passiveBench struct {
	tb  testing.TB
	ctx context.Context
	vm  *bench.VM
	log string
	cfg string
}

func (pb *passiveBench) setup(cfg string) {
	tb, ctx, vm := pb.tb, pb.ctx, pb.vm
	tb.Helper()
	pb.run(20*time.Second, `ip -n isp addr add 198.51.100.11/32 dev lo && modprobe sch_netem`)
	if _, err := vm.Background(ctx, "stream-server.log", streamServer); err != nil {
		tb.Fatal(err)
	}
	pb.log, pb.cfg = "failberry.log", cfg
	if err := vm.StartDaemon(ctx, cfg, pb.log); err != nil {
		tb.Fatal(err)
	}
	pb.awaitCount("path-up", 1, 120*time.Second)
}

// restart stops the daemon (SIGTERM; it and its ppp0 gone, the carrier's
// pppd runs on in its namespace) and starts it again on the same config and
// log, up once more: a check that needs the traffic watch's hold-offs at
// their base starts with a fresh daemon. Each false alarm doubles the
// hold-off of its rule (passive.checked), so after the earlier checks a 3 s
// stall or a 2 s wait may alarm, or may not: the probe count of "no false
// down" would be luck of the order.
func (pb *passiveBench) restart() {
	pb.tb.Helper()
	ups := len(pb.events("path-up"))
	pb.run(60*time.Second, `pkill -TERM -x failberry; while pidof failberry >/dev/null || ip link show ppp0 >/dev/null 2>&1; do sleep 0.2; done`)
	if err := pb.vm.StartDaemon(pb.ctx, pb.cfg, pb.log); err != nil {
		pb.tb.Fatal(err)
	}
	pb.awaitCount("path-up", ups+1, 120*time.Second)
}

func (pb *passiveBench) run(timeout time.Duration, sh string) string {
	pb.tb.Helper()
	out, err := pb.vm.Run(pb.ctx, timeout, sh)
	if err != nil {
		pb.tb.Fatalf("%s: %v\n%s", sh, err, out)
	}
	return out
}

// events returns the guest-clock times of the daemon's log lines of the
// event kind (its MESSAGE_ID's name, as the event's log line starts).
func (pb *passiveBench) events(kind string) []time.Time {
	pb.tb.Helper()
	data, _ := os.ReadFile(filepath.Join(pb.vm.Work, pb.log))
	re := regexp.MustCompile(`^time=(\S+) .*msg="` + kind + `\b`)
	var out []time.Time
	for _, l := range strings.Split(string(data), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			if ts, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
				out = append(out, ts)
			}
		}
	}
	return out
}

func (pb *passiveBench) awaitCount(kind string, n int, within time.Duration) {
	pb.tb.Helper()
	for end := time.Now().Add(within); len(pb.events(kind)) < n; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(end) {
			data, _ := os.ReadFile(filepath.Join(pb.vm.Work, pb.log))
			pb.tb.Fatalf("no %d %s events within %v:\n%s", n, kind, within, data)
		}
	}
}

// guestBlackhole turns the carrier's IPv4 black hole on in one
// iptables-restore (then IPv6 by the bench's script) and returns the guest
// time just before: an upper bound of the detection time, by the time the
// restore takes.
func (pb *passiveBench) guestBlackhole() time.Time {
	pb.tb.Helper()
	out := pb.run(60*time.Second, `printf '*filter\n:BENCH-BLACKHOLE - [0:0]\n-A BENCH-BLACKHOLE -i ppp+ -j DROP\n-A BENCH-BLACKHOLE -o ppp+ -j DROP\n-I INPUT -j BENCH-BLACKHOLE\n-I OUTPUT -j BENCH-BLACKHOLE\n-I FORWARD -j BENCH-BLACKHOLE\nCOMMIT\n' > /tmp/bh4
ip netns exec isp iptables -w -n -L BENCH-BLACKHOLE >/dev/null 2>&1 && sed -i '/^-I /d' /tmp/bh4
date -u +%Y-%m-%dT%H:%M:%S.%NZ
ip netns exec isp iptables-restore -w --noflush < /tmp/bh4
`+bench.Script("carrier-blackhole.sh")+` on`)
	ts, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(strings.Split(out, "\n")[0]))
	if err != nil {
		pb.tb.Fatalf("guest time %q: %v", out, err)
	}
	return ts
}

// diesUnderTraffic: the LAN host streams, the carrier black-holes the path;
// it returns the time from the black hole to the daemon's path-down event,
// both on the guest's clock, and leaves the path up again.
func (pb *passiveBench) diesUnderTraffic() time.Duration {
	pb.tb.Helper()
	downs, ups := len(pb.events("path-down")), len(pb.events("path-up"))
	pid, err := pb.vm.Background(pb.ctx, "lan-stream.log", lanStream)
	if err != nil {
		pb.tb.Fatal(err)
	}
	rx := pb.rxBytes()
	time.Sleep(8 * time.Second) // the stream flows, the probes stand aside
	pb.flowed(rx, 8*time.Second)
	if n := len(pb.events("path-down")); n != downs {
		pb.tb.Fatalf("path down under a working stream")
	}
	at := pb.guestBlackhole()
	pb.awaitCount("path-down", downs+1, 60*time.Second)
	took := pb.events("path-down")[downs].Sub(at)
	pb.run(60*time.Second, bench.Script("carrier-blackhole.sh")+" off; kill "+strconv.Itoa(pid)+" 2>/dev/null; true")
	pb.awaitCount("path-up", ups+1, 180*time.Second)
	return took
}

// noFalseDown runs f and fails if a path-down event or a new pppd came of it.
func (pb *passiveBench) noFalseDown(what string, f func()) {
	pb.tb.Helper()
	downs := len(pb.events("path-down"))
	pids := pb.run(10*time.Second, `pidof pppd`)
	f()
	if n := len(pb.events("path-down")); n != downs {
		pb.tb.Errorf("%s: %d false path-down events", what, n-downs)
	}
	if now := pb.run(10*time.Second, `pidof pppd`); now != pids {
		pb.tb.Errorf("%s: pppd changed (%q, then %q): the link was redialled", what, pids, now)
	}
}

// slowPath: a 2 s round trip on the carrier (netem on its ppp interfaces
// delays every IP packet towards the gateway 2 s; LCP passes undelayed) for
// d, under the probes' 2.5 s timeout. The daemon must probe through it and
// find the path up. Probes must run, or the check proves nothing: the LAN
// host sends a UDP datagram each second that the internet host drops, so
// the traffic watch sees requests without answers ("sent without answer"),
// at once on a fresh daemon (see restart), then at its doubling hold-off.
// A ping each second would not do: at 2 s its first reply races the 2 s
// hold-off, and once replies flow, every period is answered. It returns the
// probes' echo requests to the second address seen.
func (pb *passiveBench) slowPath(d time.Duration) int64 {
	pb.tb.Helper()
	before := readCounts(pb.tb, pb.ctx, pb.vm, false)
	pb.run(30*time.Second, `for i in $(ip -n isp -o link show | sed -n 's/^[0-9]*: \(ppp[0-9]*\).*/\1/p'); do ip netns exec isp tc qdisc replace dev $i root netem delay 2000ms; done
ip netns exec isp iptables -w -I INPUT -p udp --dport 9 -j DROP`)
	rtt := pb.run(30*time.Second, `ip netns exec lan ping -c 1 -W 5 198.51.100.10 | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p'`)
	pb.tb.Logf("slow path: LAN ping RTT %s ms", strings.TrimSpace(rtt))
	pb.run(d+30*time.Second, fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo x | ip netns exec lan socat -u - UDP:198.51.100.10:9; sleep 1; i=$((i+1)); done`, int(d.Seconds())))
	pb.run(30*time.Second, `for i in $(ip -n isp -o link show | sed -n 's/^[0-9]*: \(ppp[0-9]*\).*/\1/p'); do ip netns exec isp tc qdisc del dev $i root; done
ip netns exec isp iptables -w -D INPUT -p udp --dport 9 -j DROP; true`)
	return readCounts(pb.tb, pb.ctx, pb.vm, false).probe11 - before.probe11
}

// stalls: the LAN host downloads the stream, which stalls for 3 s, n times,
// 10 s apart. On a fresh daemon (see restart) the first stall outlasts the
// 2 s hold-off of "flow stopped" and is probed; its false alarm doubles the
// hold-off past 3 s, so the later ones are not. It returns the probes' echo
// requests to the second address.
func (pb *passiveBench) stalls(n int) int64 {
	pb.tb.Helper()
	before := readCounts(pb.tb, pb.ctx, pb.vm, false)
	pid, err := pb.vm.Background(pb.ctx, "lan-stall.log", lanStream)
	if err != nil {
		pb.tb.Fatal(err)
	}
	rx := pb.rxBytes()
	time.Sleep(5 * time.Second)
	pb.flowed(rx, 5*time.Second)
	for range n {
		pb.run(30*time.Second, `touch /tmp/stall; sleep 3; rm -f /tmp/stall; sleep 7`)
	}
	pb.run(10*time.Second, "kill "+strconv.Itoa(pid)+" 2>/dev/null; true")
	return readCounts(pb.tb, pb.ctx, pb.vm, false).probe11 - before.probe11
}

// rxBytes is what the gateway's ppp0 has received.
func (pb *passiveBench) rxBytes() int64 {
	pb.tb.Helper()
	out := pb.run(10*time.Second, `cat /sys/class/net/ppp0/statistics/rx_bytes`)
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		pb.tb.Fatalf("ppp0 rx_bytes %q: %v", out, err)
	}
	return n
}

// flowed fails unless the stream brought at least 2 kB/s in d since ppp0
// had received before: a scenario "under traffic" needs the traffic. The
// stream's nominal 20 kB/s is less under TCG (the guest's shell forks two
// programs per 2000 bytes); CI saw 8.5 kB/s including the connect.
func (pb *passiveBench) flowed(before int64, d time.Duration) {
	pb.tb.Helper()
	got, want := pb.rxBytes()-before, int64(d.Seconds()*2_000)
	if got < want {
		pb.tb.Fatalf("the stream did not flow: ppp0 received %d bytes in %v, want at least %d", got, d, want)
	}
}

// idleBytes measures, at the carrier, what an idle link carries in d (the
// probes, nothing else uses it), IP bytes plus 8 bytes of PPP framing per
// packet, as the daemon's estimator counts.
func (pb *passiveBench) idleBytes(d time.Duration) (ip, framed, pkts int64) {
	pb.tb.Helper()
	readCounts(pb.tb, pb.ctx, pb.vm, true)
	time.Sleep(d)
	c := readCounts(pb.tb, pb.ctx, pb.vm, false)
	return c.bytes, c.bytes + 8*c.pkts, c.pkts
}

// TestPassiveDiesUnderTraffic: the e2e check of passive detection, the
// default probe settings (targets aside): a path that dies while a LAN host
// streams is declared down once, within 10 s, and comes back.
func TestPassiveDiesUnderTraffic(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	setupNetworks(t, ctx, vm)
	pb := &passiveBench{tb: t, ctx: ctx, vm: vm}
	pb.setup(defaultProbesConfig(t))
	downs := len(pb.events("path-down"))
	took := pb.diesUnderTraffic()
	if n := len(pb.events("path-down")) - downs; n != 1 {
		t.Errorf("%d path-down events for one dead path, want 1", n)
	}
	if took > 10*time.Second {
		t.Errorf("path down %v after the black hole, want within 10 s", took.Round(time.Millisecond))
	}
	t.Logf("path dies under a 20 kB/s stream -> path-down in %v", took.Round(time.Millisecond))
}
