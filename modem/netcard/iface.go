package netcard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrGone means the stick's interface is not there (unplugged, dropped off
// the bus, or re-enumerating under another name).
var ErrGone = errors.New("network-card interface gone")

// prepare gives the interface named kernel the name want (renaming needs it
// down) and sets it up. It is safe to repeat: an interface that already has
// the name is only set up.
func prepare(h *netlink.Handle, kernel, want string) (netlink.Link, error) {
	l, err := h.LinkByName(want)
	if err != nil {
		if l, err = h.LinkByName(kernel); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrGone, kernel, err)
		}
		if err := h.LinkSetDown(l); err != nil {
			return nil, fmt.Errorf("set %s down to rename it: %w", kernel, err)
		}
		if err := h.LinkSetName(l, want); err != nil {
			return nil, fmt.Errorf("rename %s to %s: %w", kernel, want, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("set %s up: %w", want, err)
	}
	return h.LinkByIndex(l.Attrs().Index)
}

// setAddr installs (or refreshes) the leased address with the lease's
// lifetime: the kernel removes it by itself when the lease runs out.
func setAddr(h *netlink.Handle, l netlink.Link, p netip.Prefix, lifetime time.Duration) error {
	secs := int(lifetime / time.Second)
	if secs < 1 {
		secs = 1
	}
	a := &netlink.Addr{IPNet: ipNet(p), ValidLft: secs, PreferedLft: secs}
	if err := h.AddrReplace(l, a); err != nil {
		return fmt.Errorf("set address %s on %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}

// delAddr removes a leased address; one already gone is no error.
func delAddr(h *netlink.Handle, l netlink.Link, p netip.Prefix) error {
	if !p.IsValid() {
		return nil
	}
	err := h.AddrDel(l, &netlink.Addr{IPNet: ipNet(p)})
	if err != nil && !errors.Is(err, errNoAddr) && !errors.Is(err, errNoDev) {
		return fmt.Errorf("remove address %s from %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}

var (
	errNoAddr = unix.EADDRNOTAVAIL
	errNoDev  = unix.ENODEV
)

// Bounce sets the named interface down and up again, the ladder's second rung
// for a network card: many sticks renegotiate their USB network function
// (and some their radio) on it. It waits pause in between, and sets the
// interface up again even when ctx ends first. h nil: the current namespace.
func Bounce(ctx context.Context, h *netlink.Handle, name string, pause time.Duration) error {
	if h == nil {
		h = &netlink.Handle{}
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrGone, name, err)
	}
	if err := h.LinkSetDown(l); err != nil {
		return fmt.Errorf("set %s down: %w", name, err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(pause):
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
