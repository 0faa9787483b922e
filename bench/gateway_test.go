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

	"github.com/failberry/failberry/systemd"
)

// Gateway mode (issue 14) in TestInbound's VM: the Pi is the LAN's gateway
// with two uplinks, the main router (the primary, on the same LAN) and the
// cellular link. The home device (192.168.7.10) is the listed host; a
// second host on the LAN (192.168.7.11, namespace lan2) is not. Everything
// is observed in the guest: which address the internet host sees, the
// carrier's packet counters, the kernel's rules and conntrack entries, the
// journal by MESSAGE_ID.

const (
	otherHost = "192.168.7.11"
	// gwPeerPort: the internet host answers each connection with the
	// address it came from (the router's wired address: the primary; the
	// cellular address: cellular). gwOtherPort is the unlisted host's, and
	// is counted at the carrier. gwLongPort takes the listed host's
	// long-lived connections and logs each one's address.
	gwPeerPort  = 8100
	gwOtherPort = 8101
	gwLongPort  = 8102
	gwLANPort   = 8103 // on the home device: the Pi's own connection that never uses cellular
	// gwHold is the bench's primary.hold; everything else of the primary
	// watch is the default.
	gwHold = 10 * time.Second
	// gwFailoverMax is the bound with the default settings.
	gwFailoverMax = 15 * time.Second
	// gwFailbackRule is the steering rule that exists only while failed
	// over (route.SteerPriority+1: iif eth0 lookup the cellular table).
	gwFailbackRule = `ip rule show priority 10331 | grep -q 'iif eth0'`
	// gwMarked lists the conntrack entries that carry the out-mark
	// (route.MarkOutCellular).
	gwMarked = `conntrack -L -m 0x3000000/0xf000000 2>/dev/null`
)

func gatewayConfig() string {
	return inboundConfig(inboundFirewall+"  allow_sources: [\""+homeDevice+"\"]\n", "") +
		"route:\n  mode: gateway\nprimary:\n  hold: " + gwHold.String() + "\nstate_dir: /mnt/gw-state\n"
}

// gatewaySetup adds the second LAN host, the internet host's services and
// the counters; the LAN hosts use the Pi as their gateway.
func (in *inbound) gatewaySetup(t testing.TB) {
	ctx, vm := in.ctx, in.vm
	guest(t, ctx, vm, 10*time.Second, `set -e
ip netns add lan2
ip -n lan2 link set lo up
ip link add l2 netns lan2 type veth peer name lan2p netns lan
ip -n lan link set lan2p master br0
ip -n lan link set lan2p up
ip -n lan2 addr add `+otherHost+`/24 dev l2
ip -n lan2 link set l2 up
ip -n lan2 route add default via 192.168.7.1
ip -n lan route replace default via 192.168.7.1
for ns in lan lan2; do ip netns exec $ns iptables -A INPUT -p icmp --icmp-type redirect; done
ip netns exec isp iptables -A INPUT -i ppp+ -p tcp --dport `+strconv.Itoa(gwOtherPort)+`
ip netns exec isp iptables -A INPUT -p tcp --dport `+strconv.Itoa(gwOtherPort)+`
mkdir -p /mnt/gw-state`)
	for _, port := range []int{gwPeerPort, gwOtherPort} {
		background(t, ctx, vm, fmt.Sprintf("gw-peer-%d.log", port), fmt.Sprintf(
			`exec ip netns exec isp socat TCP-LISTEN:%d,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'`, port))
	}
	background(t, ctx, vm, "gw-long-server.log", fmt.Sprintf(
		`exec ip netns exec isp socat TCP-LISTEN:%d,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR >>/mnt/gw-long.log; exec cat >/dev/null'`, gwLongPort))
	background(t, ctx, vm, "gw-lan-server.log", fmt.Sprintf(
		`exec ip netns exec lan socat TCP-LISTEN:%d,reuseaddr,fork SYSTEM:'exec cat >/dev/null'`, gwLANPort))
	waitGuest(t, ctx, vm, 20*time.Second, fmt.Sprintf(`ip netns exec isp ss -Hltn | grep -q ':%d ' && ip netns exec lan ss -Hltn | grep -q ':%d '`,
		gwLongPort, gwLANPort))
}

// peerOf is the address the internet host sees for a new connection from
// ns to port ("" when it fails), and how long the attempt took.
func (in *inbound) peerOf(t testing.TB, ns string, port int) (string, time.Duration) {
	p, _, took := in.connect(t, ns, port)
	return p, took
}

// connect opens a new connection from ns to the internet host's port and
// returns the address the host saw ("" when it failed), socat's error (a
// refusal says "Connection refused", a hang "timed out") and how long the
// attempt took.
func (in *inbound) connect(t testing.TB, ns string, port int) (peer, errLine string, took time.Duration) {
	t.Helper()
	out := guest(t, in.ctx, in.vm, 15*time.Second, fmt.Sprintf(
		`s=$(date +%%s%%N); p=$(ip netns exec %s socat -T 3 -u TCP:%s:%d,connect-timeout=3 - 2>/tmp/connect.err); `+
			`echo "$(( ($(date +%%s%%N)-s)/1000000 )) $p"; tail -n 1 /tmp/connect.err`, ns, checker, port))
	first, rest, _ := strings.Cut(out, "\n")
	f := strings.Fields(first)
	ms, _ := strconv.Atoi(f[0])
	if len(f) > 1 {
		peer = f[1]
	}
	return peer, strings.TrimSpace(rest), time.Duration(ms) * time.Millisecond
}

// untilPeer runs action in the guest, then opens a new connection from the
// listed host every 200 ms until the internet host sees it from want, and
// returns how long that took after the action (guest clock).
func (in *inbound) untilPeer(t testing.TB, action, want string, within time.Duration) time.Duration {
	t.Helper()
	out, err := in.vm.Run(in.ctx, within+20*time.Second, fmt.Sprintf(`%s
s=$(date +%%s%%N)
while :; do
  p=$(ip netns exec lan socat -T 2 -u TCP:%s:%d,connect-timeout=1 - 2>/dev/null)
  e=$(( ($(date +%%s%%N)-s)/1000000 ))
  [ "$p" = "%s" ] && { echo $e; exit 0; }
  [ $e -gt %d ] && { echo "last peer '$p' after $e ms"; exit 1; }
  sleep 0.2
done`, action, checker, gwPeerPort, want, within.Milliseconds()))
	if err != nil {
		t.Fatalf("the listed host's new connections are not seen from %s within %v: %v %s", want, within, err, out)
	}
	ms, _ := strconv.Atoi(strings.TrimSpace(out))
	return time.Duration(ms) * time.Millisecond
}

func (in *inbound) count(t testing.TB, sh string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(guest(t, in.ctx, in.vm, 10*time.Second, sh)))
	if err != nil {
		t.Fatalf("%s: %v", sh, err)
	}
	return n
}

// carrierOther is what the carrier counted of the unlisted host's port
// (packets in on the cellular link), and what the internet host got on it
// by any path.
func (in *inbound) carrierOther(t testing.TB) (cell, all int) {
	t.Helper()
	out := guest(t, in.ctx, in.vm, 10*time.Second, fmt.Sprintf(
		`ip netns exec isp iptables -nvxL INPUT | awk '/dpt:%d/ { print $1 }'`, gwOtherPort))
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("carrier counters %q", out)
	}
	cell, _ = strconv.Atoi(f[0])
	all, _ = strconv.Atoi(f[1])
	return cell, all
}

func (in *inbound) redirects(t testing.TB) int {
	return in.count(t, `for ns in lan lan2; do ip netns exec $ns iptables -nvxL INPUT | awk '/icmptype 5/ { print $1 }'; done | awk '{ s += $1 } END { print s + 0 }'`)
}

// gatewayFailover: cut the router's uplink, see the listed host move to
// cellular within the bound and the unlisted one refused at once and never
// on the carrier; restore it, see the hold, the failback, the long-lived
// connection removed and re-made over the primary, and the Pi's own
// connection that never used cellular untouched.
func (in *inbound) gatewayFailover(t *testing.T) {
	ctx, vm := in.ctx, in.vm
	in.gatewaySetup(t)
	in.startDaemon(gatewayConfig())
	in.awaitCellAddr(t, in.cell, 90*time.Second)
	in.awaitCode(t, "cellular check, gateway mode", in.cellularURL(), true, 60*time.Second)
	waitGuest(t, ctx, vm, 20*time.Second, `ip rule show priority 10332 | grep -q 'oif ppp0'`)
	if out, _ := vm.Run(ctx, 5*time.Second, gwFailbackRule); out != "" {
		t.Fatalf("the failover rule is there with the primary up")
	}
	for _, h := range []struct{ ns, what string }{{"lan", "listed"}, {"lan2", "unlisted"}} {
		port := map[string]int{"lan": gwPeerPort, "lan2": gwOtherPort}[h.ns]
		if p, _ := in.peerOf(t, h.ns, port); p != wiredAddr {
			t.Fatalf("primary up: the %s host's connection is seen from %q, want the primary's %s", h.what, p, wiredAddr)
		}
	}
	background(t, ctx, vm, "gw-own-lan.log", fmt.Sprintf(`exec sh -c 'while true; do echo x; sleep 1; done | socat - TCP:%s:%d'`, homeDevice, gwLANPort))
	waitGuest(t, ctx, vm, 10*time.Second, fmt.Sprintf(`conntrack -L -p tcp --dport %d 2>/dev/null | grep -q ESTABLISHED`, gwLANPort))
	ownConn := strings.TrimSpace(guest(t, ctx, vm, 5*time.Second, fmt.Sprintf(`conntrack -L -p tcp --dport %d 2>/dev/null | grep ESTABLISHED | grep -o 'sport=[0-9]*' | head -1`, gwLANPort)))

	// Cut the primary (put back at the end whatever happens, for the
	// scenarios after this one).
	t.Cleanup(func() {
		_, _ = vm.Run(ctx, 5*time.Second, `ip -n router link set wan0 up && ip -n router route replace default via 192.0.2.1`)
	})
	moved := in.untilPeer(t, `ip -n router link set wan0 down`, in.cell, 40*time.Second)
	t.Logf("scenario gateway-failover: the listed host's new connections over cellular %v after the cut", moved)
	if moved > gwFailoverMax {
		t.Errorf("failover took %v, want at most %v with the default settings", moved, gwFailoverMax)
	}
	// A refusal, not a hang: socat's connect-timeout (3 s) never runs out.
	for i := range 3 {
		p, e, took := in.connect(t, "lan2", gwOtherPort)
		if p != "" || !strings.Contains(e, "refused") || took >= 3*time.Second {
			t.Errorf("primary down, attempt %d: the unlisted host got %q (%s) after %v; want a refusal", i, p, e, took)
		}
	}
	background(t, ctx, vm, "gw-long-client.log", fmt.Sprintf(
		`exec ip netns exec lan sh -c 'while true; do (while true; do echo ping; sleep 0.5; done) | socat -T 120 - TCP:%s:%d,connect-timeout=2; sleep 0.2; done'`, checker, gwLongPort))
	waitGuest(t, ctx, vm, 20*time.Second, `grep -qx '`+in.cell+`' /mnt/gw-long.log`)
	if in.count(t, gwMarked+` | grep -c 'dport=`+strconv.Itoa(gwLongPort)+`'`) == 0 {
		t.Fatalf("the long-lived connection over cellular carries no out-mark:\n%s", guest(t, ctx, vm, 5*time.Second, `conntrack -L 2>/dev/null | grep 8102`))
	}

	// Restore it: nothing moves for the hold, then everything does.
	restored := time.Now()
	guest(t, ctx, vm, 5*time.Second, `ip -n router link set wan0 up && ip -n router route replace default via 192.0.2.1`)
	waitGuest(t, ctx, vm, gwHold+30*time.Second, `! `+gwFailbackRule)
	back := time.Since(restored)
	t.Logf("scenario gateway-failback: back on the primary %v after the uplink returned (hold %v)", back.Round(100*time.Millisecond), gwHold)
	if back < gwHold {
		t.Errorf("failback %v after the primary returned, before the %v hold", back, gwHold)
	}
	gone, err := vm.Await(ctx, 10*time.Second, fmt.Sprintf(`! %s | grep -q 'dport=%d'`, gwMarked, gwLongPort))
	if err != nil {
		t.Fatalf("the long-lived connection over cellular is still tracked: %v", err)
	}
	t.Logf("scenario gateway-failback: the long-lived connection left conntrack %v after failback", gone.Round(100*time.Millisecond))
	if gone > 2*time.Second {
		t.Errorf("the long-lived connection left conntrack %v after failback, want within 2 s", gone)
	}
	re, err := vm.Await(ctx, 20*time.Second, `grep -qx '`+wiredAddr+`' /mnt/gw-long.log`)
	if err != nil {
		t.Fatalf("the long-lived client did not reconnect over the primary: %v\n%s", err, readWork(t, in, "gw-long.log"))
	}
	t.Logf("scenario gateway-failback: the long-lived client reconnected over the primary %v later", re.Round(100*time.Millisecond))
	if p, _ := in.peerOf(t, "lan", gwPeerPort); p != wiredAddr {
		t.Errorf("after failback the listed host is seen from %q, want %s", p, wiredAddr)
	}
	if now := strings.TrimSpace(guest(t, ctx, vm, 5*time.Second, fmt.Sprintf(`conntrack -L -p tcp --dport %d 2>/dev/null | grep ESTABLISHED | grep -o 'sport=[0-9]*' | head -1`, gwLANPort))); now != ownConn || now == "" {
		t.Errorf("the Pi's own connection to the LAN (%s) is %q after failback: it never used cellular and must stay", ownConn, now)
	}
	if cell, all := in.carrierOther(t); cell != 0 || all == 0 {
		t.Errorf("the unlisted host's port: %d packets at the carrier, %d at the internet host; want none over cellular and some through the primary", cell, all)
	}
	if n := in.redirects(t); n != 0 {
		t.Errorf("the LAN hosts received %d ICMP redirects, want none", n)
	}
	in.gatewayEvents(t, "0", 1, 1)
}

// gatewayEvents checks the journal has failovers failover and failbacks
// failback entries with FAILBERRY_DRILL=drill, by MESSAGE_ID.
func (in *inbound) gatewayEvents(t *testing.T, drill string, failovers, failbacks int) {
	t.Helper()
	for k, n := range map[systemd.Kind]int{systemd.Failover: failovers, systemd.Failback: failbacks} {
		got := 0
		for _, e := range in.journal(t, k) {
			if e["FAILBERRY_DRILL"] == drill {
				got++
			}
		}
		if got != n {
			t.Errorf("journal: %d %s entries (MESSAGE_ID=%s) with FAILBERRY_DRILL=%s, want %d", got, k.Name, k.ID, drill, n)
		}
	}
}

// gatewayDrill: `failberry drill` moves the listed host to cellular without
// touching the primary; the daemon is SIGKILLed in the middle and started
// again, carries the drill to its end, fails back after the hold, and
// leaves no marked connection, no drill file and no duplicate rule.
func (in *inbound) gatewayDrill(t *testing.T) {
	ctx, vm := in.ctx, in.vm
	const drillFor = 40 * time.Second
	started := time.Now()
	background(t, ctx, vm, "gw-drill.log", fmt.Sprintf(`/mnt/bin/failberry drill --for %s --config /mnt/failberry.yaml; echo "exit $?"`, drillFor))
	moved := in.untilPeer(t, ":", in.cell, 20*time.Second)
	t.Logf("scenario gateway-drill: the listed host over cellular %v after the drill started", moved)
	if out := guest(t, ctx, vm, 5*time.Second, `ip -n router link show wan0; ip route show default`); !strings.Contains(out, "state UP") || !strings.Contains(out, "via "+mainRouter) {
		t.Fatalf("the drill touched the primary:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(vm.Work, "gw-state", "drill.json")); err != nil {
		t.Fatalf("the drill is not stored: %v", err)
	}
	// The daemon alone: the drill command goes on narrating.
	guest(t, ctx, vm, 10*time.Second, `pkill -KILL -f '^/mnt/bin/failberry run'; while pgrep -f '^/mnt/bin/failberry run' >/dev/null; do sleep 0.1; done`)
	in.daemons++
	if err := vm.StartDaemon(ctx, gatewayConfig(), fmt.Sprintf("failberry-%d.log", in.daemons)); err != nil {
		t.Fatal(err)
	}
	in.awaitCellAddr(t, in.cell, 90*time.Second)
	in.awaitCode(t, "cellular check after the restart", in.cellularURL(), true, 60*time.Second)
	if in.count(t, `pgrep -c -x pppd`) != 2 { // ours and the carrier's
		t.Errorf("pppd processes after the restart:\n%s", guest(t, ctx, vm, 5*time.Second, `ps -o pid,args -C pppd`))
	}
	if time.Since(started) < drillFor {
		if p, _ := in.peerOf(t, "lan", gwPeerPort); p != in.cell {
			t.Errorf("after the restart, inside the drill, the listed host is seen from %q, want the cellular %s", p, in.cell)
		}
		if out, _ := vm.Run(ctx, 5*time.Second, `grep '^exit' /mnt/gw-drill.log`); out != "" {
			t.Errorf("failberry drill ended (%s) while the drill was still on", strings.TrimSpace(out))
		}
	}
	waitGuest(t, ctx, vm, time.Until(started.Add(drillFor+gwHold+40*time.Second)), `! `+gwFailbackRule)
	t.Logf("scenario gateway-drill: back on the primary %v after the drill started (drill %v, hold %v)", since(started), drillFor, gwHold)
	if p, _ := in.peerOf(t, "lan", gwPeerPort); p != wiredAddr {
		t.Errorf("after the drill the listed host is seen from %q, want %s", p, wiredAddr)
	}
	// The Pi's own probes of the cellular link are bound to it and carry
	// the out-mark too, before and after a failback: only the LAN's count.
	if _, err := vm.Await(ctx, 5*time.Second, `! `+gwMarked+` | grep -q 'src=192\.168\.7\.'`); err != nil {
		t.Errorf("LAN connections with the out-mark left after the drill:\n%s", guest(t, ctx, vm, 5*time.Second, gwMarked+` || true`))
	}
	if _, err := os.Stat(filepath.Join(vm.Work, "gw-state", "drill.json")); !os.IsNotExist(err) {
		t.Errorf("the drill file is still there after the drill: %v", err)
	}
	for _, fam := range []string{"-4", "-6"} {
		out := guest(t, ctx, vm, 5*time.Second, `ip `+fam+` rule show | sort | uniq -d`)
		if strings.TrimSpace(out) != "" {
			t.Errorf("duplicate %s rules after the drill and the restart:\n%s", fam, out)
		}
	}
	in.gatewayEvents(t, "1", 2, 1) // a failover by each daemon, the one killed and the one that carried the drill on
	if _, err := vm.Await(ctx, 10*time.Second, `grep -qx 'exit 0' /mnt/gw-drill.log`); err != nil {
		t.Errorf("failberry drill did not end by itself with status 0 after the failback: %v", err)
	}
	t.Logf("the drill's narration:\n%s", readWork(t, in, "gw-drill.log"))
}

func readWork(t *testing.T, in *inbound, name string) string {
	b, err := os.ReadFile(filepath.Join(in.vm.Work, name))
	if err != nil {
		t.Logf("%s: %v", name, err)
	}
	return string(b)
}
