package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/testenv"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// SO_BINDTODEVICE needs CAP_NET_RAW on older kernels and ICMP raw sockets need
// it always, so the real-probe tests run as root.

func tcpListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestRealTCPProbe(t *testing.T) {
	testenv.RequireRoot(t)
	addr := tcpListener(t)
	r := realProbe(context.Background(), "lo", Target{Kind: "tcp", Addr: addr}, 2*time.Second)
	// Measured by the kernel: SYN, SYN-ACK, ACK, then our FIN, the peer's
	// ACK of it (alone, or riding on the peer's FIN), the peer's FIN and
	// our last ACK: 6 or 7 segments, as the probe waits for its FIN's
	// acknowledgement; 5 if the last ACK was not counted yet.
	seg := int64(tcpSegLen + tcpTimestampLen + pppFraming)
	if five, seven := tcpConnectModel-seg, tcpConnectModel+seg; r.err != nil || r.rtt <= 0 || r.bytes < five || r.bytes > seven {
		t.Errorf("tcp probe of a listener: %+v, want %d..%d bytes", r, five, seven)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	r = realProbe(context.Background(), "lo", Target{Kind: "tcp", Addr: closed}, 2*time.Second)
	if r.err == nil || r.bytes != tcpSynLen+tcpSegLen+2*pppFraming {
		t.Errorf("tcp probe of a closed port: %+v", r)
	}
	r = realProbe(context.Background(), "nosuchif0", Target{Kind: "tcp", Addr: addr}, 2*time.Second)
	if r.err == nil || !strings.Contains(r.err.Error(), "bind to device nosuchif0") {
		t.Errorf("probe bound to a missing interface should fail: %+v", r)
	}
}

func TestRealHTTPProbe(t *testing.T) {
	testenv.RequireRoot(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/gen204" || r.Header.Get("User-Agent") != "failberry-probe" {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r := realProbe(context.Background(), "lo", Target{Kind: "http", Addr: host + "/gen204"}, 2*time.Second)
	if r.err != nil || r.rtt <= 0 || r.bytes <= tcpConnectModel/2 {
		t.Errorf("http probe: %+v", r)
	}
	r = realProbe(context.Background(), "lo", Target{Kind: "http", Addr: srv.URL + "/other"}, 2*time.Second)
	if !errors.Is(r.err, ErrNoAnswer) || r.bytes <= tcpConnectModel/2 {
		t.Errorf("http probe of a 500: %+v", r)
	}
	r = realProbe(context.Background(), "nosuchif0", Target{Kind: "http", Addr: host + "/gen204"}, 2*time.Second)
	if r.err == nil {
		t.Error("http probe bound to a missing interface succeeded")
	}
}

func TestRealICMPProbe(t *testing.T) {
	testenv.RequireRoot(t)
	r := realProbe(context.Background(), "lo", Target{Kind: "icmp", Addr: "127.0.0.1"}, 2*time.Second)
	// Measured: a 24-byte ICMP echo each way, plus IP header and framing.
	if r.err != nil || r.rtt <= 0 || r.bytes != 2*(ipv4Header+icmpHeader+icmpPayloadLen+pppFraming) || r.bytes != modelCost(Target{Kind: "icmp"}) {
		t.Fatalf("icmp echo to 127.0.0.1 on lo: %+v", r)
	}
	r = realProbe(context.Background(), "nosuchif0", Target{Kind: "icmp", Addr: "127.0.0.1"}, 2*time.Second)
	if r.err == nil {
		t.Error("icmp probe bound to a missing interface succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = realProbe(ctx, "lo", Target{Kind: "icmp", Addr: "192.0.2.1"}, 2*time.Second)
	if r.err == nil {
		t.Error("icmp probe with a cancelled context succeeded")
	}
}

func TestProberRunRealProbesOnLoopback(t *testing.T) {
	testenv.RequireRoot(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cfg := ProberConfig{
		Interface: "lo",
		Targets: []Target{{Kind: "icmp", Addr: "127.0.0.1"}, {Kind: "tcp", Addr: tcpListener(t)},
			{Kind: "http", Addr: srv.URL + "/"}, {Kind: "tcp", Addr: "127.0.0.1:1"}},
		Quorum: 3, Interval: time.Second, FailingInterval: time.Second, Timeout: time.Second, UpAfter: 1,
	}
	p := NewProber(cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = p.Run(ctx) }()
	select {
	case up := <-p.Changes():
		if !up {
			t.Fatalf("path went down: %+v", p.Snapshot())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("path never came up: %+v", p.Snapshot())
	}
	s := p.Snapshot()
	if !s.Targets[0].OK || !s.Targets[1].OK || !s.Targets[2].OK || s.Targets[3].OK || s.BytesSpent == 0 {
		t.Errorf("snapshot %+v", s)
	}
}

func TestEchoReplyMatching(t *testing.T) {
	req := newEcho(0x1234, 7)
	if len(req.Data) != icmpPayloadLen || req.Len(1) != 4+icmpPayloadLen {
		t.Fatalf("echo request body %+v: want a payload of %d bytes", req, icmpPayloadLen)
	}
	marshal := func(typ icmp.Type, code int, body icmp.MessageBody) []byte {
		b, err := (&icmp.Message{Type: typ, Code: code, Body: body}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	echo := func(id, seq int, data []byte) *icmp.Echo { return &icmp.Echo{ID: id, Seq: seq, Data: data} }
	reply := marshal(ipv4.ICMPTypeEchoReply, 0, req)
	if !isEchoReply(reply, req, true) || !isEchoReply(reply, req, false) {
		t.Error("matching reply rejected")
	}
	otherID := marshal(ipv4.ICMPTypeEchoReply, 0, echo(0x9999, req.Seq, req.Data))
	if isEchoReply(otherID, req, true) || !isEchoReply(otherID, req, false) {
		t.Error("the id must matter for raw sockets only (ping sockets rewrite it)")
	}
	for name, b := range map[string][]byte{
		"our own request (a raw socket on lo sees it)": marshal(ipv4.ICMPTypeEcho, 0, req),
		"another seq":     marshal(ipv4.ICMPTypeEchoReply, 0, echo(req.ID, req.Seq+1, req.Data)),
		"another payload": marshal(ipv4.ICMPTypeEchoReply, 0, echo(req.ID, req.Seq, newEcho(req.ID, req.Seq).Data)),
		"a nonzero code":  marshal(ipv4.ICMPTypeEchoReply, 1, req),
		"an unreachable":  marshal(ipv4.ICMPTypeDestinationUnreachable, 1, &icmp.DstUnreach{Data: reply}),
		"empty":           nil,
		"truncated":       reply[:3],
		"an IPv4 header":  append(append([]byte{0x45}, make([]byte, 19)...), reply...),
		"zeros":           make([]byte, 200),
	} {
		if isEchoReply(b, req, true) || isEchoReply(b, req, false) {
			t.Errorf("%s accepted as the reply", name)
		}
	}
}

func FuzzStatusCode(f *testing.F) {
	f.Add("HTTP/1.1 204 No Content\r\n")
	f.Add("garbage")
	f.Add("HTTP/1. 001")
	f.Fuzz(func(t *testing.T, s string) {
		if c := statusCode(s); c != 0 && (c < 100 || c > 999) {
			t.Errorf("statusCode(%q) = %d", s, c)
		}
	})
}
