package linkstats

import (
	"errors"
	"net"
	"runtime"
	"testing"

	"github.com/failberry/failberry/internal/testenv"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// TestNetlinkCountsWhatTheKernelCarried sends datagrams over the loopback of
// a fresh network namespace and checks the counters grew by exactly them.
func TestNetlinkCountsWhatTheKernelCarried(t *testing.T) {
	testenv.RequireRoot(t)
	runtime.LockOSThread() // the namespace belongs to this thread; it dies with it
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new netns: %v", err)
	}
	defer func() {
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		ns.Close()
		orig.Close()
	}()
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	if _, err := (Netlink{}).Read("nonesuch0"); !errors.Is(err, ErrNoLink) {
		t.Errorf("Read of a missing link = %v, want ErrNoLink", err)
	}
	before, err := (Netlink{}).Read("lo")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n, payload = 10, 100
	for range n {
		if _, err := conn.WriteToUDP(make([]byte, payload), conn.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	after, err := (Netlink{}).Read("lo")
	if err != nil {
		t.Fatal(err)
	}
	d := after.Since(before)
	// Each datagram is IPv4 + UDP + payload (loopback counts no link header).
	wantBytes := uint64(n * (20 + 8 + payload))
	if d.TxPackets != n || d.RxPackets != n || d.TxBytes != wantBytes || d.RxBytes != wantBytes {
		t.Errorf("lo carried %+v, want %d packets and %d bytes each way", d, n, wantBytes)
	}
}
