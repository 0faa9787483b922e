package firewall

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-iptables/iptables"
	"github.com/failberry/failberry/internal/testenv"
	"github.com/vishvananda/netns"
)

// These tests run the real iptables (both Debian backends) in fresh network
// namespaces: lan (192.168.50.10-11, fd50::10-11) -- eth0 | gw | ppp0 -- wan0
// inet (203.0.113.2, 2001:db8::2). The Firewall drives the gw namespace
// through wrapper scripts that run `ip netns exec gw iptables-...`.

type backend struct{ name, v4, v6, save4, save6 string }

var backends = []backend{
	{"nft", "iptables-nft", "ip6tables-nft", "iptables-nft-save", "ip6tables-nft-save"},
	{"legacy", "iptables-legacy", "ip6tables-legacy", "iptables-legacy-save", "ip6tables-legacy-save"},
}

// dropWait is how long a probe waits before deciding nothing came back.
const dropWait = time.Second

// openWait bounds probes that must succeed; generous for a busy machine.
const openWait = 10 * time.Second

type topo struct {
	t             testing.TB
	b             backend
	lan, gw, inet string
	wrap4, wrap6  string
	execs         string // file the wrappers append a line to per run
	policy        Policy
}

func forEachBackend(t *testing.T, fn func(t *testing.T, tp *topo)) {
	testenv.RequireRoot(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			testenv.RequireTools(t, "ip", "conntrack", b.v4, b.v6, b.save4, b.save6, b.v4+"-restore", b.v6+"-restore")
			fn(t, newTopo(t, b))
		})
	}
}

func newTopo(t testing.TB, b backend) *topo {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := "fbtest-" + hex.EncodeToString(rnd[:])
	tp := &topo{t: t, b: b, lan: id + "-lan", gw: id + "-gw", inet: id + "-inet"}
	for _, ns := range []string{tp.lan, tp.gw, tp.inet} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", tp.lan, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", tp.gw)
	run(t, "ip", "-n", tp.gw, "link", "add", "ppp0", "type", "veth", "peer", "name", "wan0", "netns", tp.inet)
	addrs := map[string]map[string][]string{
		tp.lan:  {"eth0": {"192.168.50.10/24", "192.168.50.11/24", "fd50::10/64", "fd50::11/64"}},
		tp.gw:   {"eth0": {"192.168.50.1/24", "fd50::1/64"}, "ppp0": {"203.0.113.1/24", "2001:db8::1/64"}},
		tp.inet: {"wan0": {"203.0.113.2/24", "2001:db8::2/64"}},
	}
	for ns, links := range addrs {
		for link, as := range links {
			for _, a := range as {
				args := []string{"-n", ns, "addr", "add", a, "dev", link}
				if strings.Contains(a, ":") {
					args = append(args, "nodad")
				}
				run(t, "ip", args...)
			}
			run(t, "ip", "-n", ns, "link", "set", link, "up")
		}
	}
	run(t, "ip", "-n", tp.lan, "route", "add", "default", "via", "192.168.50.1")
	run(t, "ip", "-n", tp.lan, "-6", "route", "add", "default", "via", "fd50::1")
	// Routes back to the LAN, so only the firewall stops WAN -> LAN.
	run(t, "ip", "-n", tp.inet, "route", "add", "192.168.50.0/24", "via", "203.0.113.1")
	run(t, "ip", "-n", tp.inet, "-6", "route", "add", "fd50::/64", "via", "2001:db8::1")
	if err := inNS(tp.gw, func() error { return EnableForwarding("/proc", true, true) }); err != nil {
		t.Fatalf("EnableForwarding in %s: %v", tp.gw, err)
	}
	if got := run(t, "ip", "netns", "exec", tp.gw, "cat", "/proc/sys/net/ipv6/conf/all/forwarding"); got != "1\n" {
		t.Fatalf("forwarding in gw = %q", got)
	}
	dir := t.TempDir()
	tp.execs = filepath.Join(dir, "execs")
	tp.wrap4 = writeWrapper(t, dir, "ipt4", tp.gw, b.v4)
	tp.wrap6 = writeWrapper(t, dir, "ipt6", tp.gw, b.v6)
	for _, suffix := range []string{"-save", "-restore"} {
		writeWrapper(t, dir, "ipt4"+suffix, tp.gw, b.v4+suffix)
		writeWrapper(t, dir, "ipt6"+suffix, tp.gw, b.v6+suffix)
	}
	tp.policy = Policy{LAN: []string{"eth0"}, HealthPort: 9000, InboundICMP: true, IPv6: true, ClampMSS: true}
	return tp
}

func writeWrapper(t testing.TB, dir, name, ns, tool string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	// Each run appends a line to dir/execs (a shell builtin, no extra exec).
	script := fmt.Sprintf("#!/bin/sh\necho %s >>%s/execs\nexec ip netns exec %s %s \"$@\"\n", name, dir, ns, tool)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tables returns fresh handles on the gw namespace, as a new daemon process
// would have them: go-iptables plus the backend's save and restore.
func (tp *topo) tables() (v4, v6 Tables) {
	tp.t.Helper()
	a, err := newSystemTables(tp.wrap4, iptables.ProtocolIPv4)
	if err != nil {
		tp.t.Fatal(err)
	}
	b, err := newSystemTables(tp.wrap6, iptables.ProtocolIPv6)
	if err != nil {
		tp.t.Fatal(err)
	}
	for _, t := range []Tables{a, b} {
		if _, ok := t.(Batch); !ok {
			tp.t.Fatalf("%T has no iptables-save/restore", t)
		}
	}
	return a, b
}

// execCount returns how many iptables programs ran in gw so far.
func (tp *topo) execCount() int {
	tp.t.Helper()
	b, err := os.ReadFile(tp.execs)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		tp.t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func (tp *topo) firewall() *Firewall {
	v4, v6 := tp.tables()
	return New(v4, v6, nil)
}

func (tp *topo) ruleset(p Policy) Ruleset {
	rs, err := Build(p)
	if err != nil {
		tp.t.Fatal(err)
	}
	return rs
}

// save returns iptables-save and ip6tables-save of gw, without comments and
// counters.
func (tp *topo) save() string {
	tp.t.Helper()
	out := run(tp.t, "ip", "netns", "exec", tp.gw, tp.b.save4) + run(tp.t, "ip", "netns", "exec", tp.gw, tp.b.save6)
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		b.WriteString(counters.ReplaceAllString(l, "[0:0]") + "\n")
	}
	return b.String()
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// rulesOnly drops table blocks that hold no rule and no user chain: the nft
// backend keeps a table once anything listed it, which is not a rule of ours.
func rulesOnly(save string) string {
	var out, block []string
	keep := false
	for _, l := range strings.Split(save, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			block, keep = []string{l}, false
		case l == "COMMIT":
			if keep {
				out = append(out, append(block, l)...)
			}
		default:
			block = append(block, l)
			if strings.HasPrefix(l, "-A") || (strings.HasPrefix(l, ":") && strings.Contains(l, " - ")) {
				keep = true
			}
		}
	}
	return strings.Join(out, "\n")
}

// inNS runs fn on a thread in network namespace ns. The thread stays locked
// and dies with its goroutine, so no other goroutine inherits the namespace.
func inNS(ns string, fn func() error) error {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("netns %s: %w", ns, err)
	}
	defer h.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// serveTCP listens in ns and answers each connection with the peer address.
func serveTCP(t *testing.T, ns, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNS(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap())
				_, _ = io.Copy(io.Discard, c) // hold the flow open until the client closes
				c.Close()
			}()
		}
	}()
}

// dialTCP connects from ns (from local address src, if set) and returns what
// the server saw as our address. keep leaves the connection open until the
// test ends.
func dialTCP(t *testing.T, ns, src, dst string, timeout time.Duration, keep bool) (string, error) {
	t.Helper()
	var c net.Conn
	err := inNS(ns, func() (err error) {
		d := net.Dialer{Timeout: timeout}
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		c, err = d.Dial("tcp", dst)
		return err
	})
	if err != nil {
		return "", err
	}
	if keep {
		t.Cleanup(func() { c.Close() })
	} else {
		defer c.Close()
	}
	_ = c.SetReadDeadline(time.Now().Add(openWait))
	line := make([]byte, 64)
	n, err := c.Read(line)
	if err != nil {
		return "", fmt.Errorf("reading greeting: %w", err)
	}
	return strings.TrimSpace(string(line[:n])), nil
}

// probeUDP sends one datagram from ns to dst on a connected socket and
// waits for an answer or an ICMP error.
func probeUDP(ns, src, dst string) error {
	var c net.Conn
	err := inNS(ns, func() (err error) {
		d := net.Dialer{}
		if src != "" {
			d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(src)}
		}
		c, err = d.Dial("udp", dst)
		return err
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("probe")); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(dropWait))
	_, err = c.Read(make([]byte, 16))
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func wantTimeout(t *testing.T, what string, err error) {
	t.Helper()
	if !isTimeout(err) {
		t.Errorf("%s: got %v, want no answer (timeout)", what, err)
	}
}

func wantRejected(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.EACCES) {
		t.Errorf("%s: got %v, want an immediate rejection (ECONNREFUSED/EHOSTUNREACH/EACCES)", what, err)
	}
}

func wantPeer(t *testing.T, what, got string, err error, peer string) {
	t.Helper()
	if err != nil || got != peer {
		t.Errorf("%s: server saw %q (err %v), want %q", what, got, err, peer)
	}
}

func TestSystemPolicy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.inet, ":8080")
		serveTCP(t, tp.gw, ":9000")
		serveTCP(t, tp.gw, ":2222") // "ssh": open on the LAN, closed on the WAN
		serveTCP(t, tp.lan, ":8081")

		// Without the firewall everything answers: the probes below can fail.
		_, err := dialTCP(t, tp.inet, "", "203.0.113.1:2222", openWait, false)
		if err != nil {
			t.Fatalf("control: WAN to gw:2222 without firewall: %v", err)
		}
		wantRejected(t, "control: UDP to a closed port without firewall", probeUDP(tp.inet, "", "203.0.113.1:5555"))
		got, err := dialTCP(t, tp.inet, "", "192.168.50.10:8081", openWait, false)
		wantPeer(t, "control: WAN to LAN without firewall", got, err, "203.0.113.2")

		if err := tp.firewall().Apply(context.Background(), tp.ruleset(tp.policy)); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		for _, fam := range []struct{ lan, gwLAN, gwWAN, inet string }{
			{"192.168.50.10", "192.168.50.1", "203.0.113.1", "203.0.113.2"},
			{"fd50::10", "fd50::1", "2001:db8::1", "2001:db8::2"},
		} {
			hp := func(h string, port int) string { return net.JoinHostPort(h, fmt.Sprint(port)) }
			got, err := dialTCP(t, tp.lan, "", hp(fam.inet, 8080), openWait, false)
			wantPeer(t, "LAN to internet (masqueraded)", got, err, fam.gwWAN)
			got, err = dialTCP(t, tp.inet, "", hp(fam.gwWAN, 9000), openWait, false)
			wantPeer(t, "internet to health port", got, err, fam.inet)
			got, err = dialTCP(t, tp.lan, fam.lan, hp(fam.gwLAN, 2222), openWait, false)
			wantPeer(t, "LAN to gw ssh (untouched)", got, err, fam.lan)
			_, err = dialTCP(t, tp.inet, "", hp(fam.gwWAN, 2222), dropWait, false)
			wantTimeout(t, "internet to gw:2222", err)
			wantTimeout(t, "internet UDP to gw", probeUDP(tp.inet, "", hp(fam.gwWAN, 5555)))
			_, err = dialTCP(t, tp.inet, "", hp(fam.lan, 8081), dropWait, false)
			wantTimeout(t, "internet to LAN host", err)
		}
	})
}

func TestSystemAllowlist(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.inet, ":8080")
		p := tp.policy
		p.AllowSources = []netip.Prefix{netip.MustParsePrefix("192.168.50.10/32"), netip.MustParsePrefix("fd50::10/128")}
		if err := tp.firewall().Apply(context.Background(), tp.ruleset(p)); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		for _, c := range []struct{ ok, other, dst string }{
			{"192.168.50.10", "192.168.50.11", "203.0.113.2"},
			{"fd50::10", "fd50::11", "2001:db8::2"},
		} {
			dst := net.JoinHostPort(c.dst, "8080")
			_, err := dialTCP(t, tp.lan, c.ok, dst, openWait, false)
			if err != nil {
				t.Errorf("allowed %s: %v", c.ok, err)
			}
			_, err = dialTCP(t, tp.lan, c.other, dst, openWait, false)
			wantRejected(t, "TCP from "+c.other, err)
			wantRejected(t, "UDP from "+c.other, probeUDP(tp.lan, c.other, net.JoinHostPort(c.dst, "53")))
		}
	})
}

// TestSystemConverge runs the outbound policy and the inbound one (marks,
// forwards, DMZ hosts): apply, no-op apply, repair, Keep, restart, Cleanup.
func TestSystemConverge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		t.Run("outbound", func(t *testing.T) { testSystemConverge(t, tp, tp.policy, nil, nil) })
		in := newTopo(t, tp.b)
		p := inboundTestPolicy(in.policy)
		p.DMZ, p.DMZ6 = netip.MustParseAddr("192.168.50.11"), netip.MustParseAddr("fd50::11")
		t.Run("inbound", func(t *testing.T) {
			wants := []string{"-A PREROUTING -j FAILBERRY-PREROUTING", "-A OUTPUT -j FAILBERRY-OUTPUT",
				"-j DNAT --to-destination 192.168.50.10:61000-61010/60000", "-j CONNMARK --restore-mark",
				"-d fd50::11/128 -i ppp+ -j ACCEPT"}
			testSystemConverge(t, in, p, wants, func(ipt, ipt6 func(...string)) {
				ipt("-t", "nat", "-D", "PREROUTING", "-j", "FAILBERRY-PREROUTING")
				ipt("-t", "nat", "-D", "FAILBERRY-POSTROUTING", "2")
				ipt("-t", "mangle", "-F", "FAILBERRY-PREROUTING")
				ipt("-t", "mangle", "-I", "OUTPUT", "2", "-j", "FAILBERRY-OUTPUT")
				ipt6("-t", "mangle", "-D", "OUTPUT", "-j", "FAILBERRY-OUTPUT")
				ipt6("-D", "FAILBERRY-FORWARD", "3")
			})
		})
	})
}

// testSystemConverge applies p on tp, checks the save has the wanted rules
// (the common ones and wants), damages them (the common damage, then
// damage's) and checks every way back leads to the same iptables-save.
func testSystemConverge(t *testing.T, tp *topo, p Policy, wants []string, damage func(ipt, ipt6 func(...string))) {
	tp.t = t
	ipt := func(args ...string) { run(t, tp.wrap4, args...) }
	ipt6 := func(args ...string) { run(t, tp.wrap6, args...) }
	ipt("-A", "INPUT", "-i", "eth0", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	ipt6("-A", "FORWARD", "-i", "eth0", "-j", "ACCEPT")
	baseline := rulesOnly(tp.save())
	rs := tp.ruleset(p)

	fw := tp.firewall()
	if err := fw.Apply(context.Background(), rs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	applied := tp.save()
	for _, want := range append([]string{"-A INPUT -j FAILBERRY-INPUT", "-A FAILBERRY-POSTROUTING -o ppp+ -j MASQUERADE", "icmpv6-type 135"}, wants...) {
		if !strings.Contains(applied, want) {
			t.Errorf("save lacks %q:\n%s", want, applied)
		}
	}

	var n calls
	v4, v6 := tp.tables()
	if err := New(counted(v4, &n), counted(v6, &n), nil).Apply(context.Background(), rs); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if n.changes != 0 || n.restores != 0 {
		t.Errorf("second Apply made %d changes (%d restores), want 0", n.changes, n.restores)
	}
	sameSave(t, "after second Apply", applied, tp.save())

	ipt("-D", "FAILBERRY-INPUT", "2")
	ipt("-F", "FAILBERRY-FORWARD")
	ipt("-t", "nat", "-D", "POSTROUTING", "1")
	ipt("-I", "INPUT", "3", "-j", "FAILBERRY-INPUT")
	ipt6("-D", "FAILBERRY-INPUT", "-i", "ppp+", "-j", "DROP")
	if damage != nil {
		damage(ipt, ipt6)
		if tp.save() == applied {
			t.Fatal("damage changed nothing")
		}
	}
	if err := fw.Apply(context.Background(), rs); err != nil {
		t.Fatalf("repairing Apply: %v", err)
	}
	sameSave(t, "after repair", applied, tp.save())

	// Keep restores a rule deleted behind its back.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- fw.Keep(ctx, rs, 50*time.Millisecond) }()
	ipt("-t", "mangle", "-D", "FAILBERRY-FORWARD", "1")
	deadline := time.Now().Add(20 * time.Second)
	for tp.save() != applied && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	sameSave(t, "after Keep", applied, tp.save())

	// A crash: a new process applies over the old state, with and
	// without Cleanup first; no duplicates either way.
	if err := tp.firewall().Apply(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	sameSave(t, "after restart without cleanup", applied, tp.save())
	fresh := tp.firewall()
	if err := fresh.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Apply(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	sameSave(t, "after restart with cleanup", applied, tp.save())

	// A bad policy is refused before anything is touched.
	bad := p
	bad.HealthPort = 0
	if _, err := Build(bad); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("Build(port 0) = %v", err)
	}
	sameSave(t, "after bad policy", applied, tp.save())

	if err := fresh.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := rulesOnly(tp.save())
	if strings.Contains(after, ChainPrefix) {
		t.Errorf("owned rules left after Cleanup:\n%s", after)
	}
	sameSave(t, "after Cleanup (vs before Apply)", baseline, after)
}

func sameSave(t *testing.T, what, want, got string) {
	t.Helper()
	if want != got {
		t.Errorf("%s: rules differ\n--- want\n%s\n--- got\n%s", what, want, got)
	}
}

func TestSystemFlushConntrack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.inet, ":8080")
		serveTCP(t, tp.gw, ":2222")
		if err := tp.firewall().Apply(context.Background(), tp.ruleset(tp.policy)); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		for _, f := range []struct{ fam, inet, gwLAN, old string }{
			{"ipv4", "203.0.113.2:8080", "192.168.50.1:2222", "203.0.113.1"},
			{"ipv6", "[2001:db8::2]:8080", "[fd50::1]:2222", "2001:db8::1"},
		} {
			if _, err := dialTCP(t, tp.lan, "", f.inet, openWait, true); err != nil {
				t.Fatalf("flow to internet: %v", err)
			}
			if _, err := dialTCP(t, tp.lan, "", f.gwLAN, openWait, true); err != nil {
				t.Fatalf("flow to gw: %v", err)
			}
			list := func() string {
				return run(t, "ip", "netns", "exec", tp.gw, "conntrack", "-L", "-f", f.fam)
			}
			before := list()
			if !strings.Contains(before, "dst="+f.old) || !strings.Contains(before, "dport=2222") {
				t.Fatalf("flows not tracked:\n%s", before)
			}
			var n uint
			err := inNS(tp.gw, func() (err error) { n, err = FlushConntrack(netip.MustParseAddr(f.old)); return err })
			if err != nil || n == 0 {
				t.Fatalf("FlushConntrack = %d, %v", n, err)
			}
			after := list()
			if strings.Contains(after, "="+f.old+" ") {
				t.Errorf("%s entries of %s left:\n%s", f.fam, f.old, after)
			}
			if !strings.Contains(after, "dport=2222") {
				t.Errorf("%s unrelated flow flushed too:\n%s", f.fam, after)
			}
		}
	})
}

// TestSystemGate: the gate the daemon applies first drops everything on the
// WAN, the health port included, and the policy applied over it opens what
// the policy opens and leaves exactly what applying the policy alone leaves.
func TestSystemGate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, tp *topo) {
		serveTCP(t, tp.inet, ":8080")
		serveTCP(t, tp.gw, ":9000")
		serveTCP(t, tp.lan, ":8081")
		fw := tp.firewall()
		if err := fw.Apply(context.Background(), Gate(tp.policy)); err != nil {
			t.Fatalf("Apply(gate): %v", err)
		}
		gated := tp.save()
		fams := []struct{ lan, gwWAN, inet string }{
			{"192.168.50.10", "203.0.113.1", "203.0.113.2"},
			{"fd50::10", "2001:db8::1", "2001:db8::2"},
		}
		hp := func(h string, port int) string { return net.JoinHostPort(h, fmt.Sprint(port)) }
		for _, fam := range fams {
			_, err := dialTCP(t, tp.inet, "", hp(fam.gwWAN, 9000), dropWait, false)
			wantTimeout(t, "gate: internet to health port", err)
			_, err = dialTCP(t, tp.inet, "", hp(fam.lan, 8081), dropWait, false)
			wantTimeout(t, "gate: internet to LAN host", err)
			_, err = dialTCP(t, tp.lan, "", hp(fam.inet, 8080), dropWait, false)
			wantTimeout(t, "gate: LAN to internet", err)
			_, err = dialTCP(t, tp.gw, "", hp(fam.inet, 8080), dropWait, false)
			wantTimeout(t, "gate: gateway to internet", err)
		}
		if err := fw.Apply(context.Background(), tp.ruleset(tp.policy)); err != nil {
			t.Fatalf("Apply(policy) over the gate: %v", err)
		}
		for _, fam := range fams {
			got, err := dialTCP(t, tp.lan, "", hp(fam.inet, 8080), openWait, false)
			wantPeer(t, "policy: LAN to internet (masqueraded)", got, err, fam.gwWAN)
			got, err = dialTCP(t, tp.inet, "", hp(fam.gwWAN, 9000), openWait, false)
			wantPeer(t, "policy: internet to health port", got, err, fam.inet)
		}
		over := tp.save()
		if err := fw.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := fw.Apply(context.Background(), tp.ruleset(tp.policy)); err != nil {
			t.Fatal(err)
		}
		sameSave(t, "policy over the gate against the policy alone", tp.save(), over)
		if gated == over {
			t.Error("the gate's rules are the policy's")
		}
	})
}
