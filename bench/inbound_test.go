//go:build bench

package bench_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// The seed's topology (bench/guest/inbound.sh): the main router on the
// Pi's LAN with its own wired uplink, forwarding its wired port 9000 to the
// Pi and the VPN port to the home device; the checker and the VPN client
// are the internet host, and a dyndns2 and a Route 53 server run there too.
const (
	checker    = "198.51.100.10" // the internet host: health checker, VPN client, DNS provider
	wiredAddr  = "192.0.2.2"     // the main router's wired address
	homeDevice = "192.168.7.10"
	mainRouter = "192.168.7.254"
	vpnPort    = 51820 // forwarded by the main router and by failberry
	otherPort  = 51821 // the home device answers it too, but nobody forwards it
	cellAddr1  = "203.0.113.2"
	cellAddr2  = "203.0.113.77"
	cgnatAddr  = "100.64.0.2"

	dyndns2Listen = checker + ":8080"
	route53Listen = checker + ":8053"
	r53KeyID      = "AKIDEXAMPLE" // AWS's documentation example key, as in internal/ddns
	r53Secret     = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	r53Zone       = "Z0123456789ABCDEFGHIJ"
)

// inboundFirewall is the firewall keys of the forward scenarios.
const inboundFirewall = `  forwards: [{proto: udp, port: 51820, to: 192.168.7.10}]
  snat_forwards: true
`

// dmzFirewall makes the home device the DMZ host instead.
const dmzFirewall = `  dmz: 192.168.7.10
  snat_forwards: true
`

const dyndns2Section = `dns:
  provider: dyndns2
  name: vpn.example.com
  timeout: 3s
  dyndns2:
    server: http://` + dyndns2Listen + `
    username: ddnskey
    password_file: /mnt/ddns-password
`

const route53Section = `dns:
  provider: route53
  name: vpn.example.com
  timeout: 3s
  route53:
    hosted_zone_id: ` + r53Zone + `
    credentials_file: /mnt/aws-credentials
    profile: failberry
    set_identifier: cellular
    failover: SECONDARY
    health_check_id: abcdef11-2222-3333-4444-555555fedcba
    endpoint: http://` + route53Listen + `
`

// inboundConfig is the bench's daemon config with firewall lines added to
// its firewall section and a dns section.
func inboundConfig(firewall, dns string) string {
	cfg := bench.DaemonConfig("")
	cfg = strings.Replace(cfg, "firewall:\n", "firewall:\n"+firewall, 1)
	return cfg + dns
}

// inbound is one VM in the seed's topology, driven through its scenarios.
type inbound struct {
	t       testing.TB // TestInbound's, or a benchmark's
	root    *testing.T // TestInbound's, for its scenarios' subtests
	ctx     context.Context
	vm      *bench.VM
	cell    string // the cellular address the carrier gives now
	daemons int
	upAt    time.Time // when the cellular link was last seen coming up
}

// settle waits until the link has been up for longer than the bench's
// recovery.healthy_after, so the next deliberate drop starts the ladder
// over at a redial instead of climbing it (address changes and redials
// are minutes apart on a real link, not seconds).
func (in *inbound) settle() {
	if d := bench.HealthyAfter + 4*time.Second - time.Since(in.upAt); d > 0 {
		time.Sleep(d)
	}
}

// TestInbound runs issue 12's "Done when" in one VM, one scenario after
// another: health checks of both links (and each link cut), the VPN through
// a forward and through the DMZ, the carrier-NAT warning, and DNS updates
// at a dyndns2 and a Route 53 server on the internet side.
func TestInbound(t *testing.T) {
	ctx, vm := startVMFor(t, sim.Config{}, true, 25*time.Minute)
	in := &inbound{t: t, root: t, ctx: ctx, vm: vm, cell: cellAddr1}
	t.Cleanup(func() {
		if t.Failed() { // the daemon runs outside the unit: its events are in the journal by identifier
			out, err := vm.Run(context.Background(), 15*time.Second, `journalctl --no-pager -o short-precise SYSLOG_IDENTIFIER=failberry 2>&1 | tail -n 80`)
			t.Logf("failberry's journal events (%v):\n%s", err, out)
		}
	})
	in.setup()

	start := time.Now()
	in.startDaemon(inboundConfig(inboundFirewall, dyndns2Section))
	in.awaitCellAddr(t, cellAddr1, 90*time.Second)
	waitGuest(t, ctx, vm, 60*time.Second, bench.LanPing)
	t.Logf("scenario inbound-online: failberry run -> lan reaches internet in %v", since(start))

	in.scenario("health-both-links", in.healthBothLinks)
	in.scenario("health-wired-uplink-cut", in.healthWiredCut)
	in.scenario("health-cellular-down", in.healthCellularDown)
	in.scenario("vpn-forward", func(t *testing.T) { in.vpnChecks(t, false) })
	in.scenario("dns-dyndns2", in.dnsDynDNS2)
	in.scenario("carrier-nat", in.carrierNAT)
	in.scenario("dns-route53", in.dnsRoute53)
	in.scenario("vpn-dmz", in.vpnDMZ)
	in.scenario("split-own-traffic", in.splitOwnTraffic)
	in.scenario("gateway-failover", in.gatewayFailover)
	in.scenario("gateway-drill", in.gatewayDrill)
}

// scenario runs one scenario as a subtest and logs its duration.
func (in *inbound) scenario(name string, f func(t *testing.T)) {
	start := time.Now()
	ok := in.root.Run(name, f)
	in.t.Logf("scenario %s: %s in %v", name, map[bool]string{true: "passed", false: "FAILED"}[ok], since(start))
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

func (in *inbound) setup() {
	t, ctx, vm := in.t, in.ctx, in.vm
	waitGuest(t, ctx, vm, 90*time.Second, `systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active bench.target`)
	setupNetworks(t, ctx, vm)
	guest(t, ctx, vm, 20*time.Second, bench.Script("inbound.sh"))
	for name, content := range map[string]string{
		"ddns-password":   "s3cret\n",
		"aws-credentials": fmt.Sprintf("[failberry]\naws_access_key_id = %s\naws_secret_access_key = %s\n", r53KeyID, r53Secret),
	} {
		p := filepath.Join(vm.Work, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The address monitor times every address the Pi gets (guest clock,
	// the clock ddnsd stamps its requests with).
	background(t, ctx, vm, "addr-monitor.log", `exec env TZ=UTC ip -ts monitor address`)
	background(t, ctx, vm, "ddnsd.log", fmt.Sprintf(`exec ip netns exec isp /mnt/bin/ddnsd -dyndns2 %s -route53 %s -key %s -secret %s -zone %s`,
		dyndns2Listen, route53Listen, r53KeyID, r53Secret, r53Zone))
	for _, port := range []int{vpnPort, otherPort} {
		background(t, ctx, vm, fmt.Sprintf("home-udp-%d.log", port), fmt.Sprintf(`exec ip netns exec lan sh %s %d`, bench.Script("vpn-home.sh"), port))
	}
	waitGuest(t, ctx, vm, 20*time.Second, fmt.Sprintf(`ip netns exec isp ss -Hltn | grep -q ' %s ' && ip netns exec isp ss -Hltn | grep -q ' %s '`, dyndns2Listen, route53Listen))
	// The topology itself: the LAN reaches the internet through the main
	// router, and the router's own VPN forward reaches the home device.
	guest(t, ctx, vm, 10*time.Second, `ping -c 1 -W 2 `+checker)
	guest(t, ctx, vm, 10*time.Second, `ip netns exec lan ping -c 1 -W 2 -I `+homeDevice+` `+mainRouter)
}

// startDaemon stops the running daemon (cleanly) and starts one with cfg.
func (in *inbound) startDaemon(cfg string) {
	in.t.Helper()
	if in.daemons > 0 {
		guest(in.t, in.ctx, in.vm, 40*time.Second, `pkill -TERM -x failberry; while pidof failberry >/dev/null; do sleep 0.2; done`)
	}
	in.daemons++
	if err := in.vm.StartDaemon(in.ctx, cfg, fmt.Sprintf("failberry-%d.log", in.daemons)); err != nil {
		in.t.Fatal(err)
	}
}

// httpCode is the HTTP status the checker gets for url ("000": no answer).
func (in *inbound) httpCode(url string) string {
	out, err := in.vm.Run(in.ctx, 10*time.Second, fmt.Sprintf(
		`ip netns exec isp curl -s -o /dev/null -w '%%{http_code}' --interface %s --connect-timeout 2 -m 3 '%s' || true`, checker, url))
	if err != nil {
		in.t.Logf("checking %s: the guest command failed: %v", url, err)
	}
	return strings.TrimSpace(out)
}

func (in *inbound) wiredURL() string    { return "http://" + wiredAddr + ":9000/" }
func (in *inbound) cellularURL() string { return "http://" + in.cell + ":9000/cellular" }

// awaitCode waits until the checker sees url answer (or not answer) 200.
func (in *inbound) awaitCode(t testing.TB, what, url string, pass bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var code string
	for {
		code = in.httpCode(url)
		if (code == "200") == pass {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: checker got HTTP %s from %s for %v, want %s", what, code, url, within, map[bool]string{true: "200", false: "no 200"}[pass])
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// steadyCode checks that url keeps answering (or not answering) 200 for d.
func (in *inbound) steadyCode(t *testing.T, what, url string, pass bool, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if code := in.httpCode(url); (code == "200") != pass {
			t.Fatalf("%s: checker got HTTP %s from %s, want %s", what, code, url, map[bool]string{true: "200", false: "no 200"}[pass])
		}
	}
}

func (in *inbound) healthBothLinks(t *testing.T) {
	d := in.awaitCode(t, "wired check, both links up", in.wiredURL(), true, 20*time.Second)
	in.awaitCode(t, "cellular check, both links up", in.cellularURL(), true, 20*time.Second)
	in.steadyCode(t, "wired check, both links up", in.wiredURL(), true, 3*time.Second)
	in.steadyCode(t, "cellular check, both links up", in.cellularURL(), true, 3*time.Second)
	t.Logf("both checks pass (wired after %v)", d.Round(100*time.Millisecond))
}

func (in *inbound) healthWiredCut(t *testing.T) {
	guest(t, in.ctx, in.vm, 5*time.Second, `ip -n router link set wan0 down`)
	defer guest(t, in.ctx, in.vm, 5*time.Second, `ip -n router link set wan0 up && ip -n router route replace default via 192.0.2.1`)
	in.awaitCode(t, "wired check, wired uplink cut", in.wiredURL(), false, 10*time.Second)
	in.steadyCode(t, "cellular check, wired uplink cut", in.cellularURL(), true, 3*time.Second)
	in.steadyCode(t, "wired check, wired uplink cut", in.wiredURL(), false, 2*time.Second)
}

// The cellular link down two ways: a modem that passes no data (the PPP
// link stays up and keeps the default route, so only reply routing gets
// the wired check's answer out), and the carrier's pppd gone (the link
// drops and the Pi's own default route comes back).
func (in *inbound) healthCellularDown(t *testing.T) {
	in.awaitCode(t, "wired check before", in.wiredURL(), true, 20*time.Second)
	in.vm.Modem.SetFault(sim.FaultBlackhole)
	defer in.vm.Modem.SetFault(sim.FaultNone) // a failure here must not break the scenarios after it
	in.awaitCode(t, "cellular check, modem passes no data", in.cellularURL(), false, 20*time.Second)
	if out, _ := in.vm.Run(in.ctx, 5*time.Second, `ip route show default`); !strings.Contains(out, "ppp") {
		t.Logf("note: the default route is no longer via ppp (%q): the daemon took the link down", strings.TrimSpace(out))
	}
	in.steadyCode(t, "wired check, modem passes no data", in.wiredURL(), true, 5*time.Second)
	in.vm.Modem.SetFault(sim.FaultNone)

	in.killCarrier()
	in.awaitCode(t, "cellular check, carrier gone", in.cellularURL(), false, 20*time.Second)
	in.steadyCode(t, "wired check, carrier gone", in.wiredURL(), true, 5*time.Second)
	in.startCarrier(cellAddr1)
	back := in.awaitCode(t, "cellular check back", in.cellularURL(), true, 120*time.Second)
	in.upAt = time.Now()
	t.Logf("cellular check passes again %v after the carrier came back", back.Round(100*time.Millisecond))
}

// vpnExchange sends one datagram from the VPN client to dst:port and
// returns the answer and whether the home device saw it.
func (in *inbound) vpnExchange(dst string, port int) (answer string, atHome bool) {
	nonce := fmt.Sprintf("vpn-%d", time.Now().UnixNano())
	out, _ := in.vm.Run(in.ctx, 10*time.Second, fmt.Sprintf(
		`echo %s | ip netns exec isp socat -t 2 -T 2 - UDP:%s:%d,bind=%s 2>/dev/null || true`, nonce, dst, port, checker))
	home, _ := os.ReadFile(filepath.Join(in.vm.Work, "home-udp.log"))
	return strings.TrimSpace(out), strings.Contains(string(home), fmt.Sprintf("%d %s ", port, nonce))
}

// vpnPasses retries the exchange a few times (the first datagram may wait
// for neighbour discovery) and fails t unless an answer comes back.
func (in *inbound) vpnPasses(t *testing.T, what, dst string, port int) {
	t.Helper()
	var ans string
	var home bool
	for range 3 {
		if ans, home = in.vpnExchange(dst, port); home && strings.HasPrefix(ans, "pong ") {
			return
		}
	}
	t.Errorf("%s: VPN datagram to %s:%d: reached the home device %v, answer at the client %q", what, dst, port, home, ans)
}

func (in *inbound) vpnUnanswered(t *testing.T, what, dst string, port int) {
	t.Helper()
	for range 2 {
		if ans, home := in.vpnExchange(dst, port); home || ans != "" {
			t.Errorf("%s: datagram to %s:%d reached the home device %v, answer %q; want nothing", what, dst, port, home, ans)
			return
		}
	}
}

func (in *inbound) homeGateway(t *testing.T, gw string) {
	guest(t, in.ctx, in.vm, 5*time.Second, `ip -n lan route replace default via `+gw)
}

// vpnChecks: the forwarded port reaches the home device over the cellular
// address and its answers come back, with the home device's gateway the
// Pi and the main router; in the forward case a port not forwarded gets
// nothing, in the DMZ case it reaches the home device too.
func (in *inbound) vpnChecks(t *testing.T, dmz bool) {
	in.awaitCode(t, "cellular check", in.cellularURL(), true, 30*time.Second)
	in.homeGateway(t, "192.168.7.1")
	in.vpnPasses(t, "home gateway the Pi", in.cell, vpnPort)
	in.homeGateway(t, mainRouter)
	defer in.homeGateway(t, "192.168.7.1")
	in.vpnPasses(t, "home gateway the main router (SNAT of forwards)", in.cell, vpnPort)
	in.vpnPasses(t, "wired path through the main router's own forward", wiredAddr, vpnPort)
	if dmz {
		in.vpnPasses(t, "DMZ: another port", in.cell, otherPort)
	} else {
		in.vpnUnanswered(t, "port not forwarded", in.cell, otherPort)
	}
	in.homeGateway(t, "192.168.7.1")
	if dmz {
		in.vpnPasses(t, "DMZ: another port, home gateway the Pi", in.cell, otherPort)
	} else {
		in.vpnUnanswered(t, "port not forwarded, home gateway the Pi", in.cell, otherPort)
	}
	// The health port stays the Pi's, DMZ or not.
	in.awaitCode(t, "cellular check with forwards", in.cellularURL(), true, 5*time.Second)
}

func (in *inbound) vpnDMZ(t *testing.T) {
	in.startDaemon(inboundConfig(dmzFirewall, ""))
	in.awaitCellAddr(t, in.cell, 90*time.Second)
	in.vpnChecks(t, true)
}

// ---- the carrier and the Pi's cellular address

func (in *inbound) carrierPid() string {
	out, _ := in.vm.Run(in.ctx, 5*time.Second, `for p in $(pidof pppd); do grep -q ttyS1 /proc/$p/cmdline && echo $p; done`)
	return strings.TrimSpace(out)
}

func (in *inbound) killCarrier() {
	if p := in.carrierPid(); p != "" {
		guest(in.t, in.ctx, in.vm, 10*time.Second, `kill `+p+`; while kill -0 `+p+` 2>/dev/null; do sleep 0.1; done`)
	}
}

// startCarrier starts the carrier's pppd, giving the Pi addr on the next call.
func (in *inbound) startCarrier(addr string) {
	background(in.t, in.ctx, in.vm, "pppd-carrier.log", fmt.Sprintf(`export CELL_ADDR=%s; exec %s`, addr, bench.Script("carrier.sh")))
	in.cell = addr
}

// newCellAddr makes the carrier give addr: the carrier's pppd restarts (the
// call ends), and the Pi redials and gets addr. It returns when the Pi has
// it, with the guest time the address appeared.
func (in *inbound) newCellAddr(t *testing.T, addr string) time.Time {
	t.Helper()
	n := len(in.addrEvents(addr))
	in.settle()
	in.killCarrier()
	in.startCarrier(addr)
	var at time.Time
	waitFor(t, 120*time.Second, "the Pi gets "+addr, func() bool {
		ev := in.addrEvents(addr)
		if len(ev) > n {
			at = ev[n]
			return true
		}
		return false
	})
	in.upAt = time.Now()
	return at
}

// redialSameAddr has the network drop the call (NO CARRIER); the daemon
// redials and gets the same address again. It returns when the address is
// back.
func (in *inbound) redialSameAddr(t *testing.T) {
	t.Helper()
	n := len(in.addrEvents(in.cell))
	in.settle()
	in.vm.Modem.SetFault(sim.FaultCarrierDrop)
	time.Sleep(500 * time.Millisecond)
	in.vm.Modem.SetFault(sim.FaultNone)
	waitFor(t, 90*time.Second, "the Pi gets "+in.cell+" again", func() bool { return len(in.addrEvents(in.cell)) > n })
	in.upAt = time.Now()
}

func (in *inbound) awaitCellAddr(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	waitGuest(t, in.ctx, in.vm, within, `ip -4 -o addr show | grep -q "ppp[0-9]* *inet `+addr+` "`)
	in.upAt = time.Now()
}

var addrLine = regexp.MustCompile(`^\[([0-9T:.-]+)\] \d+: (ppp\d+)\s+inet (\S+) `)

// addrEvents returns the guest times at which a ppp interface got addr.
func (in *inbound) addrEvents(addr string) []time.Time {
	f, err := os.Open(filepath.Join(in.vm.Work, "addr-monitor.log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := addrLine.FindStringSubmatch(sc.Text())
		if m == nil || m[3] != addr {
			continue
		}
		if at, err := time.ParseInLocation("2006-01-02T15:04:05.000000", m[1], time.UTC); err == nil {
			out = append(out, at)
		}
	}
	return out
}

// ---- DNS

// ddnsLine is one line of bench/ddnsd's output.
type ddnsLine struct {
	Service  string `json:"service"`
	Refused  bool   `json:"refused"`
	Reason   string `json:"reason"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Addr     string `json:"addr"`
	Answer   string `json:"answer"`
	UnixNano int64  `json:"unix_nano"`
}

func (l ddnsLine) at() time.Time { return time.Unix(0, l.UnixNano) }

// ddnsRequests returns what ddnsd saw for service: accepted updates and refusals.
func (in *inbound) ddnsRequests(service string) (accepted, refused []ddnsLine) {
	data, _ := os.ReadFile(filepath.Join(in.vm.Work, "ddnsd.log"))
	for _, line := range strings.Split(string(data), "\n") {
		var l ddnsLine
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &l) != nil || l.Service != service {
			continue
		}
		if l.Refused {
			refused = append(refused, l)
		} else {
			accepted = append(accepted, l)
		}
	}
	return accepted, refused
}

func forAddr(ls []ddnsLine, addr string) (out []ddnsLine) {
	for _, l := range ls {
		if l.Addr == addr {
			out = append(out, l)
		}
	}
	return out
}

// dnsChange checks one address change at service: exactly one update for
// addr reaches the server within 5 s of the Pi getting it, and a redial
// with the same address sends nothing more. It returns the latency.
func (in *inbound) dnsChange(t *testing.T, service, addr string) time.Duration {
	t.Helper()
	got := in.newCellAddr(t, addr)
	var upd ddnsLine
	waitFor(t, 10*time.Second, service+" update for "+addr+" at the server", func() bool {
		acc, _ := in.ddnsRequests(service)
		if a := forAddr(acc, addr); len(a) > 0 {
			upd = a[0]
			return true
		}
		return false
	})
	latency := upd.at().Sub(got)
	t.Logf("%s: the update for %s reached the server %v after the Pi got the address (answer %q)", service, addr, latency.Round(time.Millisecond), upd.Answer)
	if latency > 5*time.Second {
		t.Errorf("%s: update for %s took %v, want within 5s", service, addr, latency)
	}
	before, _ := in.ddnsRequests(service)
	in.redialSameAddr(t)
	time.Sleep(8 * time.Second) // an update would have been sent by now
	after, refused := in.ddnsRequests(service)
	if len(after) != len(before) {
		t.Errorf("%s: a redial with the unchanged address %s sent %d more update(s): %+v", service, addr, len(after)-len(before), after[len(before):])
	}
	if n := len(forAddr(after, addr)); n != 1 {
		t.Errorf("%s: %d updates for %s at the server, want exactly 1", service, n, addr)
	}
	if len(refused) > 0 {
		t.Errorf("%s: the server refused %d request(s): %+v", service, len(refused), refused)
	}
	return latency
}

func (in *inbound) dnsDynDNS2(t *testing.T) {
	// At start: the address the daemon came up with.
	waitFor(t, 10*time.Second, "dyndns2 update for "+cellAddr1+" at start", func() bool {
		acc, _ := in.ddnsRequests("dyndns2")
		return len(forAddr(acc, cellAddr1)) > 0
	})
	// The redials of the scenarios before kept the address: one update only.
	if acc, _ := in.ddnsRequests("dyndns2"); len(forAddr(acc, cellAddr1)) != 1 {
		t.Errorf("dyndns2: %d updates for the unchanged %s, want 1: %+v", len(forAddr(acc, cellAddr1)), cellAddr1, acc)
	}
	in.dnsChange(t, "dyndns2", cellAddr2)
}

func (in *inbound) dnsRoute53(t *testing.T) {
	in.startDaemon(inboundConfig(inboundFirewall, route53Section))
	in.awaitCellAddr(t, in.cell, 90*time.Second)
	time.Sleep(3 * time.Second)
	if acc, _ := in.ddnsRequests("route53"); len(forAddr(acc, cgnatAddr)) > 0 {
		t.Errorf("route53: the carrier-NAT address %s was published", cgnatAddr)
	}
	in.dnsChange(t, "route53", cellAddr1)
	acc, _ := in.ddnsRequests("route53")
	for _, l := range forAddr(acc, cellAddr1) {
		if l.Name != "vpn.example.com" || l.Type != "A" {
			t.Errorf("route53 change %+v, want an A record for vpn.example.com", l)
		}
	}
}

// ---- carrier NAT

func (in *inbound) journal(t *testing.T, k systemd.Kind) []journalEntry {
	t.Helper()
	return journalOf(t, in.ctx, in.vm, 0, k)
}

// catalogIDs are the MESSAGE_IDs failberry.catalog documents.
func catalogIDs(t *testing.T) map[string]bool {
	data, err := os.ReadFile(filepath.Join(bench.SourceDir(), "systemd", "failberry.catalog"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if id, ok := strings.CutPrefix(l, "-- "); ok {
			ids[strings.TrimSpace(id)] = true
		}
	}
	return ids
}

// carrierNATEntries are the journal's carrier-NAT warnings that name addr.
func (in *inbound) carrierNATEntries(t *testing.T, addr string) []journalEntry {
	var out []journalEntry
	for _, e := range in.journal(t, systemd.CarrierNAT) {
		for k, v := range e {
			if s, ok := v.(string); ok && strings.HasPrefix(k, "FAILBERRY_") && s == addr {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// A carrier-NAT address: the journal says so once for the address (an
// entry with the carrier-nat MESSAGE_ID, documented in the catalog, a
// FAILBERRY_ field holding the address, at warning priority or above),
// status --json says so, and DNS does not publish it.
func (in *inbound) carrierNAT(t *testing.T) {
	in.newCellAddr(t, cgnatAddr)
	var es []journalEntry
	waitFor(t, 15*time.Second, "a carrier-nat journal entry (MESSAGE_ID="+systemd.CarrierNAT.ID+") naming "+cgnatAddr, func() bool {
		es = in.carrierNATEntries(t, cgnatAddr)
		return len(es) > 0
	})
	e := es[0]
	id, _ := e["MESSAGE_ID"].(string)
	if !catalogIDs(t)[id] {
		t.Errorf("carrier-NAT entry's MESSAGE_ID %q is not in systemd/failberry.catalog", id)
	}
	if p, _ := e["PRIORITY"].(string); p > "4" {
		t.Errorf("carrier-NAT entry has PRIORITY %s, want warning (4) or above", p)
	}
	t.Logf("carrier-NAT journal entry: MESSAGE_ID=%s MESSAGE=%v", id, e["MESSAGE"])

	status := guest(t, in.ctx, in.vm, 10*time.Second, `/mnt/bin/failberry status --json --config /mnt/failberry.yaml`)
	var st2 struct {
		Inbound struct {
			Address    string `json:"address"`
			CarrierNAT bool   `json:"carrier_nat"`
		} `json:"inbound"`
	}
	if err := json.Unmarshal([]byte(status), &st2); err != nil {
		t.Fatalf("failberry status --json: %v\n%s", err, status)
	}
	if !st2.Inbound.CarrierNAT || st2.Inbound.Address != cgnatAddr {
		t.Errorf("failberry status --json: inbound %+v, want carrier_nat true for %s:\n%s", st2.Inbound, cgnatAddr, status)
	}

	// Once per address: a redial with the same address adds nothing.
	in.redialSameAddr(t)
	time.Sleep(3 * time.Second)
	if n := len(in.carrierNATEntries(t, cgnatAddr)); n != 1 {
		t.Errorf("%d carrier-NAT journal entries for %s after a redial, want 1 (once per address)", n, cgnatAddr)
	}
	if acc, _ := in.ddnsRequests("dyndns2"); len(forAddr(acc, cgnatAddr)) > 0 {
		t.Errorf("dyndns2: the carrier-NAT address %s was published", cgnatAddr)
	}
}
