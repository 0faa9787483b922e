package ddns

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// duckdnsServer is DuckDNS's /update as its spec page describes it: domains
// (subnames, comma separated), token, and ip or ipv6; "OK" or "KO". It keeps
// the records it holds, and like DuckDNS fills the A record from the
// request's source when neither ip nor ipv6 is given.
type duckdnsServer struct {
	*httptest.Server
	token string

	mu   sync.Mutex
	a    map[string]netip.Addr
	aaaa map[string]netip.Addr
	hits int
}

func newDuckDNSServer(t *testing.T) *duckdnsServer {
	s := &duckdnsServer{token: "a7c4d0ad-114e-40ef-ba1d-d217904a50f2", a: map[string]netip.Addr{}, aaaa: map[string]netip.Addr{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.hits++
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/update" || q.Get("token") != s.token || q.Get("domains") != "myhouse" {
			w.Write([]byte("KO"))
			return
		}
		ip, ip6 := q.Get("ip"), q.Get("ipv6")
		if ip == "" && ip6 == "" {
			ip, _, _ = strings.Cut(r.RemoteAddr, ":") // autodetection
		}
		if ip != "" {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				w.Write([]byte("KO"))
				return
			}
			if a.Is4() {
				s.a["myhouse"] = a
			} else {
				s.aaaa["myhouse"] = a
			}
		}
		if ip6 != "" {
			a, err := netip.ParseAddr(ip6)
			if err != nil || !a.Is6() {
				w.Write([]byte("KO"))
				return
			}
			s.aaaa["myhouse"] = a
		}
		w.Write([]byte("OK"))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *duckdnsServer) config(t *testing.T, token string) Config {
	c := DefaultConfig()
	c.Provider = ProviderDuckDNS
	c.Name = "myhouse.duckdns.org"
	c.DuckDNS = DuckDNSConfig{Server: s.URL, TokenFile: writeSecret(t, "token", token+"\n", 0o600)}
	return c
}

func TestDuckDNS(t *testing.T) {
	s := newDuckDNSServer(t)
	ctx := context.Background()
	p, err := NewProvider(s.config(t, s.token), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Update(ctx, "myhouse.duckdns.org", addr1); err != nil {
		t.Fatal(err)
	}
	if err := p.Update(ctx, "myhouse", addr6); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	a, aaaa := s.a["myhouse"], s.aaaa["myhouse"]
	s.mu.Unlock()
	if a != addr1 || aaaa != addr6 {
		t.Errorf("server holds A %v AAAA %v, want %v and %v (the AAAA update must not touch A)", a, aaaa, addr1, addr6)
	}

	p, _ = NewProvider(s.config(t, "wrong-token"), nil)
	if err := p.Update(ctx, "myhouse", addr2); !isPermanent(err) || !strings.Contains(err.Error(), "KO") {
		t.Errorf("wrong token: %v, want a permanent KO", err)
	}
}
