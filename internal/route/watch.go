// Package route keeps the host's default route on the PPP link. pppd 2.5
// dropped replacedefaultroute and the daemon must put the old default back
// when the link goes away, so pppd runs with nodefaultroute and this package
// owns the route, driven by netlink events rather than polling.
//
// It also owns reply routing (ReplyRoutes): policy rules and routing tables
// of failberry's own that send the replies of a connection back out of the
// link it came in on, by the connection mark the firewall sets, so a health
// check that reached eth0 is not answered through ppp0.
package route

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Link is the state of one network interface as the route manager needs it.
// Index 0 means the interface does not exist (pppd has not created it or it
// is gone).
type Link struct {
	Name  string
	Index int
	// Up is the administrative IFF_UP flag: pppd sets it once IPCP is done.
	Up bool
	// Local and Peer are the IPv4 addresses of the point-to-point link; the
	// zero Addr when none is assigned yet.
	Local, Peer netip.Addr
	// Local6 holds the global IPv6 addresses (link-local ones are left out:
	// they do not make a v6 default route useful).
	Local6 []netip.Addr
	// Gateway is the router of a link that is not point-to-point (a
	// network-card stick's, from its DHCP lease): the IPv4 default route
	// goes via it, and IPv6's is left to the kernel's router
	// advertisements. The zero Addr: a point-to-point link (PPP). The
	// watch never sets it; the daemon does, from the lease.
	Gateway netip.Addr
}

// Ready reports whether l can carry a default route.
func (l Link) Ready() bool { return l.Index > 0 && l.Up && l.Local.IsValid() }

func (l Link) equal(o Link) bool {
	return l.Name == o.Name && l.Index == o.Index && l.Up == o.Up && l.Local == o.Local &&
		l.Peer == o.Peer && slices.Equal(l.Local6, o.Local6)
}

// WatchLink calls fn with the state of interface name now and after every
// change to it (appears, goes up or down, gains or loses an address, goes
// away) in the current network namespace. It runs until ctx ends, returning
// ctx.Err(), or until the netlink subscription fails.
func WatchLink(ctx context.Context, name string, fn func(Link)) error {
	return WatchLinkAt(ctx, netns.None(), name, fn)
}

// WatchLinkAt is WatchLink in network namespace ns; netns.None() means the
// current one. It exists for tests and for a daemon that runs in a namespace.
func WatchLinkAt(ctx context.Context, ns netns.NsHandle, name string, fn func(Link)) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("watch %s: netlink handle: %w", name, err)
	}
	defer h.Close()
	done := make(chan struct{})
	defer close(done)
	subErr := make(chan error, 2)
	cb := func(err error) {
		select {
		case subErr <- err:
		default:
		}
	}
	links := make(chan netlink.LinkUpdate, 16)
	addrs := make(chan netlink.AddrUpdate, 16)
	var nsp *netns.NsHandle
	if ns.IsOpen() {
		nsp = &ns
	}
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: nsp, ErrorCallback: cb, ListExisting: true}); err != nil {
		return fmt.Errorf("watch %s: subscribe to links: %w", name, err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: nsp, ErrorCallback: cb, ListExisting: true}); err != nil {
		return fmt.Errorf("watch %s: subscribe to addresses: %w", name, err)
	}
	return watchLoop(ctx, h, name, fn, links, addrs, subErr)
}

func watchLoop(ctx context.Context, h *netlink.Handle, name string, fn func(Link),
	links <-chan netlink.LinkUpdate, addrs <-chan netlink.AddrUpdate, subErr <-chan error) error {
	last, err := readLink(h, name)
	if err != nil {
		return err
	}
	fn(last)
	for {
		relevant := false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-subErr:
			return fmt.Errorf("watch %s: netlink: %w", name, err)
		case u, ok := <-links:
			if !ok {
				return fmt.Errorf("watch %s: link subscription closed", name)
			}
			relevant = u.Attrs().Name == name || (last.Index > 0 && int(u.Index) == last.Index)
		case u, ok := <-addrs:
			if !ok {
				return fmt.Errorf("watch %s: address subscription closed", name)
			}
			relevant = last.Index == 0 || u.LinkIndex == last.Index
		}
		if !relevant {
			continue
		}
		cur, err := readLink(h, name)
		if err != nil {
			return err
		}
		if !cur.equal(last) {
			last = cur
			fn(cur)
		}
	}
}

// readLink reads the current state of the named link; a missing link is the
// zero Link with only the Name set.
func readLink(h *netlink.Handle, name string) (Link, error) {
	l := Link{Name: name}
	nl, err := h.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("read link %s: %w", name, err)
	}
	l.Index = nl.Attrs().Index
	l.Up = nl.Attrs().Flags&net.FlagUp != 0
	var addrs []netlink.Addr
	err = retryDump(func() (err error) { addrs, err = h.AddrList(nl, netlink.FAMILY_ALL); return err })
	if err != nil {
		return l, fmt.Errorf("read addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		switch {
		case ip.Is4() && !l.Local.IsValid():
			l.Local = ip
			if a.Peer != nil {
				l.Peer, _ = netip.AddrFromSlice(a.Peer.IP)
				l.Peer = l.Peer.Unmap()
			}
		case ip.Is6() && ip.IsGlobalUnicast():
			l.Local6 = append(l.Local6, ip)
		}
	}
	slices.SortFunc(l.Local6, netip.Addr.Compare)
	return l, nil
}

// retryDump repeats a netlink dump the kernel interrupted because the table
// changed under it (NLM_F_DUMP_INTR): common while pppd is configuring the
// link, and harmless when simply asked again.
func retryDump(dump func() error) error {
	var err error
	for range 5 {
		if err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}
