package health

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// ErrNoAnswer is wrapped when a probe got no valid answer in time.
var ErrNoAnswer = errors.New("no answer")

const icmpPayloadLen = 16

var icmpSeq atomic.Uint32

// realProbe sends one probe of t's kind over iface.
func realProbe(ctx context.Context, iface string, t Target, timeout time.Duration) probeResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch t.Kind {
	case "icmp":
		return probeICMP(ctx, iface, t.Addr)
	case "tcp":
		return probeTCP(ctx, iface, t.Addr, timeout)
	case "http":
		return probeHTTP(ctx, iface, t.Addr, timeout)
	}
	return probeResult{err: fmt.Errorf("probe %s: unknown kind", t)}
}

// bindToDevice returns a net.Dialer/ListenConfig Control function that pins the
// socket to iface with SO_BINDTODEVICE (empty iface: no binding).
func bindToDevice(iface string) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		if iface == "" {
			return nil
		}
		var serr error
		if err := c.Control(func(fd uintptr) { serr = bindFD(int(fd), iface) }); err != nil {
			return err
		}
		return serr
	}
}

func bindFD(fd int, iface string) error {
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface); err != nil {
		return fmt.Errorf("bind to device %s: %w", iface, err)
	}
	return nil
}

func probeTCP(ctx context.Context, iface, addr string, timeout time.Duration) probeResult {
	d := net.Dialer{Control: bindToDevice(iface)}
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		b := tcpFailModel(timeout)
		if errors.Is(err, syscall.ECONNREFUSED) {
			b = wire(1, 0, tcpSynLen) + wire(1, 0, tcpSegLen) // SYN, RST
		}
		return probeResult{bytes: b, err: fmt.Errorf("probe tcp %s: %w", addr, err)}
	}
	rtt := time.Since(start)
	tc := c.(*net.TCPConn)
	defer tc.Close()
	return probeResult{rtt: rtt, bytes: closeTCP(ctx, tc)}
}

// closeTCP ends the connection with a FIN and waits, at most until ctx
// ends, for the peer's FIN and for the acknowledgement of ours, so the whole
// closing handshake is part of what the kernel counted; then it returns the
// socket's cost from those counters. The wait matters for passive detection
// too: a probe whose last segment arrives after the round looks like
// traffic of the link's own.
func closeTCP(ctx context.Context, c *net.TCPConn) int64 {
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	_ = c.CloseWrite()
	_, err := io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	if err == nil {
		awaitFinAcked(ctx, c)
	}
	return tcpConnCost(c, err == nil)
}

// finPoll is how often awaitFinAcked looks at the socket's state: the
// peer's acknowledgement follows its FIN by well under a round trip.
const finPoll = 5 * time.Millisecond

// The socket states of linux/tcp_states.h that mean our FIN was acknowledged
// (or the connection is gone).
const tcpTimeWait, tcpClose = 6, 7

// awaitFinAcked waits until the kernel has our FIN acknowledged (the
// socket in TIME_WAIT or closed), at most until ctx ends.
func awaitFinAcked(ctx context.Context, c *net.TCPConn) {
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	t := time.NewTicker(finPoll)
	defer t.Stop()
	for {
		var state uint8
		var gerr error
		if cerr := raw.Control(func(fd uintptr) {
			var ti *unix.TCPInfo
			if ti, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); gerr == nil {
				state = ti.State
			}
		}); cerr != nil || gerr != nil || state == tcpTimeWait || state == tcpClose {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tcpConnCost reads the socket's TCP_INFO counters; the model when the
// kernel gives none. finIn: the peer's FIN was read (EOF).
func tcpConnCost(c *net.TCPConn, finIn bool) int64 {
	raw, err := c.SyscallConn()
	if err != nil {
		return tcpConnectModel
	}
	var ti *unix.TCPInfo
	cerr := raw.Control(func(fd uintptr) { ti, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if cerr != nil || err != nil {
		return tcpConnectModel
	}
	return tcpCost(ti, finIn)
}

// parseHTTPTarget accepts "http://host[:port][/path]" or "host[:port][/path]".
func parseHTTPTarget(addr string) (hostport, path string, err error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", "", fmt.Errorf("http target %q: want http://host[:port][/path]", addr)
	}
	hostport = u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), "80")
	}
	path = u.RequestURI()
	return hostport, path, nil
}

// httpRequest is the whole probe request: tiny, no keep-alive.
func httpRequest(addr string) string {
	hostport, path, err := parseHTTPTarget(addr)
	if err != nil {
		return ""
	}
	host, _, _ := net.SplitHostPort(hostport)
	return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: failberry-probe\r\nConnection: close\r\n\r\n"
}

// probeHTTP sends a GET and counts 2xx as an answer; rtt is the time to the
// status line. At most 64 KiB of the response is read. Its cost is what the
// kernel counted for the socket once the server closed (Connection: close)
// and the probe sent its FIN; the peer's ACK of that FIN comes after.
func probeHTTP(ctx context.Context, iface, addr string, timeout time.Duration) probeResult {
	hostport, _, err := parseHTTPTarget(addr)
	if err != nil {
		return probeResult{err: err}
	}
	d := net.Dialer{Control: bindToDevice(iface)}
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return probeResult{bytes: tcpFailModel(timeout), err: fmt.Errorf("probe http %s: %w", addr, err)}
	}
	tc := c.(*net.TCPConn)
	defer tc.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	req := httpRequest(addr)
	if _, err := io.WriteString(c, req); err != nil {
		return probeResult{bytes: tcpConnCost(tc, false), err: fmt.Errorf("probe http %s: write: %w", addr, err)}
	}
	br := bufio.NewReader(io.LimitReader(c, 64<<10))
	line, err := br.ReadString('\n')
	rtt := time.Since(start)
	if err != nil {
		return probeResult{bytes: closeTCP(ctx, tc), err: fmt.Errorf("probe http %s: %w: %w", addr, ErrNoAnswer, err)}
	}
	_, _ = io.Copy(io.Discard, br)
	used := closeTCP(ctx, tc)
	code := statusCode(line)
	if code < 200 || code > 299 {
		return probeResult{bytes: used, err: fmt.Errorf("probe http %s: status %d: %w", addr, code, ErrNoAnswer)}
	}
	return probeResult{rtt: rtt, bytes: used}
}

// statusCode parses "HTTP/1.x NNN ..."; 0 when malformed.
func statusCode(line string) int {
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") || len(f[1]) != 3 || strings.Trim(f[1], "0123456789") != "" {
		return 0
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 100 {
		return 0
	}
	return n
}

// probeICMP sends one ICMP echo request and waits for the matching reply.
func probeICMP(ctx context.Context, iface, addr string) probeResult {
	ip := net.ParseIP(addr).To4()
	if ip == nil {
		return probeResult{err: fmt.Errorf("probe icmp %s: not an IPv4 address", addr)}
	}
	conn, raw, err := openICMP(iface)
	if err != nil {
		return probeResult{err: fmt.Errorf("probe icmp %s: %w", addr, err)}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	var dst net.Addr = &net.UDPAddr{IP: ip}
	if raw {
		dst = &net.IPAddr{IP: ip}
	}
	req := newEcho(os.Getpid(), int(icmpSeq.Add(1)))
	msg, err := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: req}).Marshal(nil)
	if err != nil {
		return probeResult{err: fmt.Errorf("probe icmp %s: encoding the echo request: %w", addr, err)}
	}
	start := time.Now()
	sent, err := conn.WriteTo(msg, dst)
	if err != nil {
		return probeResult{err: fmt.Errorf("probe icmp %s: send: %w", addr, err)}
	}
	used := icmpCost(sent)
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return probeResult{bytes: used, err: fmt.Errorf("probe icmp %s: %w: %w", addr, ErrNoAnswer, err)}
		}
		if isEchoReply(buf[:n], req, raw) {
			// n is the ICMP message: both socket kinds hand it over
			// without the IP header.
			return probeResult{rtt: time.Since(start), bytes: used + icmpCost(n)}
		}
	}
}

// openICMP opens an unprivileged ping socket (SOCK_DGRAM, allowed by
// net.ipv4.ping_group_range) or, failing that, a raw ICMP socket (root or
// CAP_NET_RAW), bound to iface. It opens the socket itself rather than
// through icmp.ListenPacket, which binds before the caller can set
// SO_BINDTODEVICE: the probe must leave by the cellular link only.
func openICMP(iface string) (net.PacketConn, bool, error) {
	raw := false
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		raw = true
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		if err != nil {
			return nil, false, fmt.Errorf("icmp socket: %w", err)
		}
	}
	f := os.NewFile(uintptr(fd), "icmp")
	defer f.Close()
	if iface != "" {
		if err := bindFD(fd, iface); err != nil {
			return nil, false, err
		}
	}
	if !raw {
		if err := unix.Bind(fd, &unix.SockaddrInet4{}); err != nil {
			return nil, false, fmt.Errorf("icmp bind: %w", err)
		}
	}
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, false, fmt.Errorf("icmp socket: %w", err)
	}
	return c, raw, nil
}

// newEcho is the body of one echo request: the id and seq, and a payload of
// icmpPayloadLen bytes (a tag and the send time) that only this probe sends.
func newEcho(id, seq int) *icmp.Echo {
	data := make([]byte, icmpPayloadLen)
	copy(data, "failberr")
	binary.BigEndian.PutUint64(data[8:], uint64(time.Now().UnixNano()))
	return &icmp.Echo{ID: id & 0xffff, Seq: seq & 0xffff, Data: data}
}

// isEchoReply reports whether b, as read from the socket, is the reply to
// req. With ping sockets the kernel rewrites the id, so only seq and payload
// are compared; raw sockets see every ICMP packet, so the id must match too.
// Go's raw IPv4 sockets strip the IP header before b reaches here.
func isEchoReply(b []byte, req *icmp.Echo, raw bool) bool {
	m, err := icmp.ParseMessage(ipv4.ICMPTypeEcho.Protocol(), b)
	if err != nil || m.Type != ipv4.ICMPTypeEchoReply || m.Code != 0 {
		return false
	}
	e, ok := m.Body.(*icmp.Echo)
	if !ok || e.Seq != req.Seq || !bytes.Equal(e.Data, req.Data) {
		return false
	}
	return !raw || e.ID == req.ID
}
