package netcard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/testenv"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The tests run the link against a real DHCP server (busybox udhcpd) in a
// network namespace of its own playing the stick's router, over a veth pair
// whose other end, in the Pi's namespace, is the stick's interface.

type bench struct {
	pi     netns.NsHandle
	h      *netlink.Handle
	stick  string // the stick's namespace name
	server *exec.Cmd
	conf   string
}

func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// newBench makes the two namespaces and the wire; the Pi's end is usb0.
func newBench(t *testing.T, lease int) *bench {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "busybox")
	id := fmt.Sprintf("fbnc%d", os.Getpid()%100000)
	b := &bench{stick: id + "s"}
	pi := id + "p"
	run(t, "ip", "netns", "add", b.stick)
	run(t, "ip", "netns", "add", pi)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", b.stick).Run()
		exec.Command("ip", "netns", "del", pi).Run()
	})
	run(t, "ip", "-n", pi, "link", "add", "usb0", "type", "veth", "peer", "name", "stk", "netns", b.stick)
	run(t, "ip", "-n", b.stick, "addr", "add", "192.168.8.1/24", "dev", "stk")
	run(t, "ip", "-n", b.stick, "link", "set", "stk", "up")
	var err error
	if b.pi, err = netns.GetFromName(pi); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.pi.Close() })
	if b.h, err = netlink.NewHandleAt(b.pi); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.h.Close)
	dir := t.TempDir()
	b.conf = filepath.Join(dir, "udhcpd.conf")
	conf := fmt.Sprintf("start 192.168.8.100\nend 192.168.8.150\ninterface stk\nlease_file %s/leases\npidfile %s/pid\n"+
		"min_lease 2\noption subnet 255.255.255.0\noption router 192.168.8.1\noption dns 192.168.8.1\noption lease %d\n", dir, dir, lease)
	if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.startServer(t)
	return b
}

func (b *bench) startServer(t *testing.T) {
	t.Helper()
	b.server = exec.Command("ip", "netns", "exec", b.stick, "busybox", "udhcpd", "-f", "-a", "100", b.conf)
	if err := b.server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.stopServer() })
	time.Sleep(200 * time.Millisecond) // udhcpd binds its socket
}

func (b *bench) stopServer() {
	if b.server != nil && b.server.Process != nil {
		b.server.Process.Kill()
		b.server.Wait()
		b.server = nil
	}
}

// config runs the link in the Pi's namespace.
func (b *bench) config() Config {
	return Config{Kernel: "usb0", Name: "cell0", Hostname: "failberry", Timeout: 5 * time.Second, Handle: b.h,
		Listen: func(iface string) (net.PacketConn, error) {
			var c net.PacketConn
			err := inNS(b.pi, func() (err error) { c, err = nclient4.NewRawUDPConn(iface, nclient4.ClientPort); return err })
			return c, err
		}}
}

// inNS runs fn on a thread in ns; the socket it opens stays in ns.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // the thread is left in ns and dies with the goroutine
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// addrs are the IPv4 addresses on the Pi's cell0, with their valid lifetime.
func (b *bench) addrs(t *testing.T) map[netip.Prefix]int {
	t.Helper()
	l, err := b.h.LinkByName("cell0")
	if err != nil {
		t.Fatalf("cell0: %v", err)
	}
	as, err := b.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.Prefix]int{}
	for _, a := range as {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		out[netip.PrefixFrom(ip.Unmap(), ones)] = a.ValidLft
	}
	return out
}

func TestLeaseTakenRenewedReleased(t *testing.T) {
	b := newBench(t, 10)
	ctx := context.Background()
	l, err := Start(ctx, b.config())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop(0)
	lease := l.Lease()
	if !netip.MustParsePrefix("192.168.8.0/24").Contains(lease.Addr.Addr()) || lease.Addr.Bits() != 24 ||
		lease.Router != netip.MustParseAddr("192.168.8.1") || lease.Lifetime != 10*time.Second {
		t.Fatalf("lease = %+v", lease)
	}
	// The kernel's view: renamed, up, the address with the lease's lifetime.
	nl, err := b.h.LinkByName("cell0")
	if err != nil || nl.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("cell0 after Start: %v, %v", nl, err)
	}
	if lft, ok := b.addrs(t)[lease.Addr]; !ok || lft > 10 {
		t.Fatalf("addresses %v, want %s with a lifetime of at most 10 s", b.addrs(t), lease.Addr)
	}
	// Past the first lease's end, the address is still there: renewed at T1.
	time.Sleep(12 * time.Second)
	if _, ok := b.addrs(t)[lease.Addr]; !ok {
		t.Fatalf("after 12 s of a 10 s lease the address is gone: %v (no renewal)", b.addrs(t))
	}
	select {
	case <-l.Done():
		t.Fatalf("link ended: %v", l.Wait())
	default:
	}
	if got := l.Lease(); !got.Obtained.After(lease.Obtained) {
		t.Errorf("lease not renewed: obtained %v, then %v", lease.Obtained, got.Obtained)
	}
	if err := l.Stop(0); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if got := b.addrs(t); len(got) != 0 {
		t.Errorf("addresses after Stop: %v, want none", got)
	}
	if err := l.Wait(); err != nil {
		t.Errorf("Wait after Stop = %v, want nil", err)
	}
}

// A stick whose DHCP server stops answering loses the lease at its end: the
// address is removed and Done says why.
func TestLeaseLostWhenTheStickStopsAnswering(t *testing.T) {
	b := newBench(t, 10)
	l, err := Start(context.Background(), b.config())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop(0)
	addr := l.Lease().Addr
	b.stopServer()
	select {
	case <-l.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the link outlived its 10 s lease by 5 s")
	}
	if err := l.Wait(); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Wait = %v, want ErrLeaseLost", err)
	}
	if _, ok := b.addrs(t)[addr]; ok {
		t.Errorf("the lost lease's address %s is still on cell0", addr)
	}
}

// A start asks for the address it is told to prefer (the last lease's);
// with no server it fails within its timeout and leaves no address.
func TestStartPrefersTheLastAddressAndFailsCleanly(t *testing.T) {
	b := newBench(t, 60)
	l, err := Start(context.Background(), b.config())
	if err != nil {
		t.Fatal(err)
	}
	first := l.Lease().Addr
	l.Stop(0)
	want := netip.MustParsePrefix("192.168.8.140/24")
	if first == want {
		want = netip.MustParsePrefix("192.168.8.141/24")
	}
	// a new MAC, which the server has no lease for: it offers what is asked
	run(t, "ip", "-n", b.stick[:len(b.stick)-1]+"p", "link", "set", "cell0", "address", "02:00:00:00:00:42")
	cfg := b.config()
	cfg.Prefer = want.Addr()
	l, err = Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Lease().Addr; got != want {
		t.Errorf("second lease %s, want the preferred %s (the first was %s)", got, want, first)
	}
	l.Stop(0)
	b.stopServer()
	cfg.Timeout = 2 * time.Second
	start := time.Now()
	if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrNoLease) || time.Since(start) > 4*time.Second {
		t.Errorf("Start without a server = %v after %v, want ErrNoLease within 2 s", err, time.Since(start))
	}
	if got := b.addrs(t); len(got) != 0 {
		t.Errorf("addresses after a failed start: %v", got)
	}
}
