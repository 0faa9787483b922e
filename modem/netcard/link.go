package netcard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

var (
	// ErrNoLease means no DHCP server on the stick answered (its router is
	// hung or still booting).
	ErrNoLease = errors.New("no DHCP lease from the stick")
	// ErrLeaseLost means the lease ended: the stick refused to renew it
	// (NAK) or stopped answering until it expired.
	ErrLeaseLost = errors.New("DHCP lease lost")
)

// Config says which interface to run and how.
type Config struct {
	// Kernel is the interface's name as discovery found it ("usb0").
	Kernel string
	// Name is the name to give it ("cell0"); Kernel when empty.
	Name string
	// Hostname is sent with the requests, so the stick's web page lists
	// the Pi by name; empty sends none.
	Hostname string
	// Prefer is the address to ask for (the last lease's): a stick keeps
	// handing out the same one, and connections NATed by it survive.
	Prefer netip.Addr
	// Timeout bounds the first exchange (DISCOVER to ACK, with retries);
	// 20 s when zero.
	Timeout time.Duration
	// Handle is the netlink handle to work through; nil: the current
	// network namespace. Listen opens the DHCP client's raw socket on an
	// interface; nil: nclient4.NewRawUDPConn in the current namespace.
	// Both exist so tests can run the link in a namespace of their own.
	Handle *netlink.Handle
	Listen func(iface string) (net.PacketConn, error)
	Logger *slog.Logger
}

// Lease is the IPv4 configuration the stick handed out.
type Lease struct {
	Addr     netip.Prefix // the Pi's address on the stick's network, 192.168.8.100/24
	Router   netip.Addr   // the stick's router: the default route's gateway
	DNS      []netip.Addr
	Server   netip.Addr // the DHCP server's identifier
	Obtained time.Time  // when the last ACK came
	// Lifetime is the lease's length; T1 and T2 are when to renew and to
	// rebind, from Obtained (RFC 2131 4.4.5: half and 7/8 of it unless the
	// server says otherwise).
	Lifetime, T1, T2 time.Duration
}

// expires is when the lease ends.
func (l Lease) expires() time.Time { return l.Obtained.Add(l.Lifetime) }

// Link is a running network-card link: the interface up with its leased
// address, kept by renewals until Stop or until the lease is lost (Done).
type Link struct {
	cfg    Config
	h      *netlink.Handle
	link   netlink.Link
	client *nclient4.Client
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	kept   chan struct{} // closed when keep has returned

	mu    sync.Mutex
	raw   *nclient4.Lease
	lease Lease
	err   error
}

// Start prepares the interface and takes a lease; the lease is kept in the
// background until ctx ends, Stop is called, or it is lost. On error nothing
// is left configured but the interface's new name and up flag.
func Start(ctx context.Context, cfg Config) (*Link, error) {
	cfg.Name = cmp.Or(cfg.Name, cfg.Kernel)
	cfg.Timeout = cmp.Or(cfg.Timeout, 20*time.Second)
	if cfg.Handle == nil {
		cfg.Handle = &netlink.Handle{}
	}
	if cfg.Listen == nil {
		cfg.Listen = func(iface string) (net.PacketConn, error) { return nclient4.NewRawUDPConn(iface, nclient4.ClientPort) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nl, err := prepare(cfg.Handle, cfg.Kernel, cfg.Name)
	if err != nil {
		return nil, err
	}
	conn, err := cfg.Listen(cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("DHCP socket on %s: %w", cfg.Name, err)
	}
	client, err := nclient4.NewWithConn(conn, nl.Attrs().HardwareAddr, nclient4.WithTimeout(3*time.Second), nclient4.WithRetry(2))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("DHCP client on %s: %w", cfg.Name, err)
	}
	l := &Link{cfg: cfg, h: cfg.Handle, link: nl, client: client, log: cfg.Logger,
		done: make(chan struct{}), kept: make(chan struct{})}
	if err := l.obtain(ctx); err != nil {
		client.Close()
		return nil, err
	}
	kctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	go l.keep(kctx)
	return l, nil
}

// obtain runs DISCOVER..ACK and installs the address.
func (l *Link) obtain(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	// The preferred address goes in the DISCOVER only: the REQUEST must
	// name what was offered, or the server refuses it.
	disc := l.modifiers()
	if l.cfg.Prefer.Is4() {
		disc = append(disc, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(l.cfg.Prefer.AsSlice()))))
	}
	offer, err := l.client.DiscoverOffer(ctx, disc...)
	if err != nil {
		return fmt.Errorf("%w on %s: %v", ErrNoLease, l.cfg.Name, err)
	}
	raw, err := l.client.RequestFromOffer(ctx, offer, l.modifiers()...)
	if err != nil {
		return fmt.Errorf("%w on %s: %v", ErrNoLease, l.cfg.Name, err)
	}
	return l.install(raw)
}

// modifiers are the options sent with every request.
func (l *Link) modifiers() []dhcpv4.Modifier {
	m := []dhcpv4.Modifier{dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
		dhcpv4.OptionDomainNameServer, dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue)}
	if l.cfg.Hostname != "" {
		m = append(m, dhcpv4.WithOption(dhcpv4.OptHostName(l.cfg.Hostname)))
	}
	return m
}

// install checks an ACK, installs its address and remembers the lease. An
// ACK without a usable address or router is refused: it is the stick's
// garbage, not a configuration.
func (l *Link) install(raw *nclient4.Lease) error {
	lease, err := parseLease(raw.ACK, time.Now())
	if err != nil {
		return fmt.Errorf("%w on %s: %v", ErrNoLease, l.cfg.Name, err)
	}
	l.mu.Lock()
	old := l.lease.Addr
	l.mu.Unlock()
	if err := setAddr(l.h, l.link, lease.Addr, lease.Lifetime); err != nil {
		return err
	}
	if old.IsValid() && old != lease.Addr {
		if err := delAddr(l.h, l.link, old); err != nil {
			l.log.Warn("old lease address", "err", err)
		}
	}
	l.mu.Lock()
	l.raw, l.lease = raw, lease
	l.mu.Unlock()
	return nil
}

// parseLease reads the lease an ACK describes.
func parseLease(ack *dhcpv4.DHCPv4, now time.Time) (Lease, error) {
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr)
	ip = ip.Unmap()
	if !ok || !ip.Is4() || !ip.IsGlobalUnicast() {
		return Lease{}, fmt.Errorf("ACK offers no usable address (%v)", ack.YourIPAddr)
	}
	bits := 24
	if m := ack.SubnetMask(); m != nil {
		if ones, size := m.Size(); size == 32 && ones > 0 && ones < 32 {
			bits = ones
		}
	}
	lease := Lease{Addr: netip.PrefixFrom(ip, bits), Obtained: now}
	for _, r := range ack.Router() {
		if a, ok := netip.AddrFromSlice(r); ok && a.Unmap().Is4() && lease.Router == (netip.Addr{}) {
			lease.Router = a.Unmap()
		}
	}
	if !lease.Router.IsValid() || !lease.Addr.Contains(lease.Router) || lease.Router == ip {
		return Lease{}, fmt.Errorf("ACK for %s names no router on its subnet (%v)", lease.Addr, ack.Router())
	}
	for _, d := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(d); ok {
			lease.DNS = append(lease.DNS, a.Unmap())
		}
	}
	if s, ok := netip.AddrFromSlice(ack.ServerIdentifier()); ok {
		lease.Server = s.Unmap()
	}
	lease.Lifetime = ack.IPAddressLeaseTime(12 * time.Hour)
	if lease.Lifetime < 10*time.Second {
		lease.Lifetime = 10 * time.Second // a garbled lease time must not make us spin
	}
	lease.T1 = ack.IPAddressRenewalTime(lease.Lifetime / 2)
	lease.T2 = ack.IPAddressRebindingTime(lease.Lifetime * 7 / 8)
	if lease.T1 <= 0 || lease.T1 >= lease.Lifetime {
		lease.T1 = lease.Lifetime / 2
	}
	if lease.T2 <= lease.T1 || lease.T2 >= lease.Lifetime {
		lease.T2 = lease.T1 + (lease.Lifetime-lease.T1)*3/4
	}
	return lease, nil
}

// Lease is the current lease.
func (l *Link) Lease() Lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lease
}

// Name is the interface's name (Config.Name).
func (l *Link) Name() string { return l.cfg.Name }

// Done is closed when the lease is lost; Wait says why.
func (l *Link) Done() <-chan struct{} { return l.done }

// Wait returns why the link ended: an error wrapping ErrLeaseLost or ErrGone,
// or nil after Stop.
func (l *Link) Wait() error {
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Stop ends the link: it stops the renewals, releases the lease (so the
// stick can hand the address out again at once), removes the address and
// closes the DHCP socket. grace is unused: DHCPRELEASE expects no answer.
// Safe to call more than once.
func (l *Link) Stop(time.Duration) error {
	l.cancel()
	<-l.kept
	l.mu.Lock()
	raw, lease := l.raw, l.lease
	l.raw, l.lease = nil, Lease{}
	l.mu.Unlock()
	var errs []error
	if raw != nil {
		if err := l.client.Release(raw); err != nil {
			l.log.Debug("DHCP release", "err", err)
		}
		errs = append(errs, delAddr(l.h, l.link, lease.Addr))
	}
	errs = append(errs, l.client.Close())
	l.finish(nil)
	return errors.Join(errs...)
}

// finish records why the link ended, once, and closes Done.
func (l *Link) finish(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
	default:
		l.err = err
		close(l.done)
	}
}
