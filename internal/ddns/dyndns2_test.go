package ddns

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/config/value"
	"github.com/failberry/failberry/internal/ddns/ddnstest"
)

// dyndns2Server is ddnstest's dyndns2 service (No-IP's /nic/update) for
// vpn.example.com on an httptest server; it asks clients to name themselves
// ("failberry ..." User-Agent), as No-IP does.
type dyndns2Server struct {
	*ddnstest.DynDNS2
	*httptest.Server
}

// scripted is a scripted answer: status code and body.
type scripted = ddnstest.Answer

func newDynDNS2Server(t *testing.T) *dyndns2Server {
	d := ddnstest.NewDynDNS2("ddnskey", "s3cret", "vpn.example.com")
	d.AgentPrefix = "failberry "
	s := &dyndns2Server{DynDNS2: d, Server: httptest.NewServer(d)}
	t.Cleanup(s.Close)
	return s
}

func (s *dyndns2Server) requests() []ddnstest.Request { return s.Requests() }

// config returns a dns: section for this server with the right password.
func (s *dyndns2Server) config(t *testing.T) Config {
	c := DefaultConfig()
	c.Provider = ProviderDynDNS2
	c.Name = s.Host()
	c.Timeout = value.Duration(2 * time.Second)
	c.DynDNS2 = DynDNS2Config{
		Server:       s.URL,
		Username:     s.User,
		PasswordFile: writeSecret(t, "password", s.Pass+"\n", 0o600),
	}
	return c
}

func TestDynDNS2Answers(t *testing.T) {
	s := newDynDNS2Server(t)
	p, err := NewProvider(s.config(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		answer          scripted
		ok, perm, trans bool
	}{
		{answer: scripted{Code: 200, Body: "good 203.0.113.2"}, ok: true},
		{answer: scripted{Code: 200, Body: "nochg 203.0.113.2\n"}, ok: true},
		{answer: scripted{Code: 200, Body: "abuse"}, perm: true},
		{answer: scripted{Code: 200, Body: "!donator"}, perm: true},
		{answer: scripted{Code: 200, Body: "911"}, trans: true},
		{answer: scripted{Code: 200, Body: "dnserr"}, trans: true},
		{answer: scripted{Code: 502, Body: "<html>bad gateway</html>"}, trans: true},
		{answer: scripted{Code: 200, Body: "<html>captive portal</html>"}, trans: true},
		{answer: scripted{Code: 403, Body: "forbidden"}, perm: true},
	} {
		s.Script(tc.answer)
		err := p.Update(ctx, s.Host(), addr1)
		if (err == nil) != tc.ok || isPermanent(err) != tc.perm || isTransient(err) != tc.trans {
			t.Errorf("answer %q: got %v (permanent %v), want ok=%v permanent=%v transient=%v",
				tc.answer.Body, err, isPermanent(err), tc.ok, tc.perm, tc.trans)
		}
	}
	if n := len(s.requests()); n != 9 {
		t.Errorf("server saw %d valid requests, want 9", n)
	}
}

func TestDynDNS2SendsIPv6AsMyipv6(t *testing.T) {
	s := newDynDNS2Server(t)
	p, _ := NewProvider(s.config(t), nil)
	if err := p.Update(context.Background(), s.Host(), addr6); err != nil {
		t.Fatal(err)
	}
	if got := s.requests(); len(got) != 1 || !got[0].V6 || got[0].Addr != addr6 {
		t.Errorf("server got %+v, want one myipv6=%v", got, addr6)
	}
}

func TestDynDNS2Refusals(t *testing.T) {
	s := newDynDNS2Server(t)
	ctx := context.Background()

	c := s.config(t)
	c.DynDNS2.PasswordFile = writeSecret(t, "wrong", "guess\n", 0o600)
	p, _ := NewProvider(c, nil)
	if err := p.Update(ctx, s.Host(), addr1); !isPermanent(err) || !strings.Contains(err.Error(), "badauth") {
		t.Errorf("wrong password: %v, want a permanent badauth", err)
	}

	p, _ = NewProvider(s.config(t), nil)
	if err := p.Update(ctx, "other.example.com", addr1); !isPermanent(err) || !strings.Contains(err.Error(), "nohost") {
		t.Errorf("unknown host: %v, want a permanent nohost", err)
	}

	c = s.config(t)
	c.DynDNS2.PasswordFile = writeSecret(t, "open", s.Pass, 0o644)
	p, _ = NewProvider(c, nil)
	if err := p.Update(ctx, s.Host(), addr1); !isPermanent(err) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable password file: %v, want a permanent error saying chmod 600", err)
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("server accepted %d requests, want none", n)
	}
}

// Every update opens its own connection: one kept from before an address
// change is bound to an address the link lost, and a request on it hangs
// until its time limit (seen on the bench after a redial).
func TestProviderOpensAConnectionPerUpdate(t *testing.T) {
	d := ddnstest.NewDynDNS2("ddnskey", "s3cret", "vpn.example.com")
	d.AgentPrefix = "failberry "
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(d)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := &dyndns2Server{DynDNS2: d, Server: srv}
	p, err := NewProvider(s.config(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{addr1, addr2} {
		if err := p.Update(context.Background(), s.Host(), a); err != nil {
			t.Fatalf("update to %v: %v", a, err)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections for 2 updates, want one each", n)
	}
}
