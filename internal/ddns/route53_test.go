package ddns

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/config/value"
	"github.com/failberry/failberry/internal/ddns/ddnstest"
)

// Test credentials: AWS's documentation example key.
const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testZone   = "Z0123456789ABCDEFGHIJ"
)

// route53Server is ddnstest's Route 53 API (ChangeResourceRecordSets with a
// SigV4 check) on an httptest server, holding testZone and accepting the
// test key.
type route53Server struct {
	*ddnstest.Route53
	*httptest.Server
}

func newRoute53Server(t *testing.T) *route53Server {
	r := ddnstest.NewRoute53(testKeyID, testSecret, testZone)
	s := &route53Server{Route53: r, Server: httptest.NewServer(r)}
	t.Cleanup(s.Close)
	return s
}

func (s *route53Server) got() []ddnstest.Change { return s.Changes() }

func (s *route53Server) config(t *testing.T, secret string) Config {
	c := DefaultConfig()
	c.Provider = ProviderRoute53
	c.Name = "vpn.example.com"
	c.Timeout = value.Duration(5 * time.Second)
	c.Route53 = Route53Config{
		HostedZoneID: testZone,
		CredentialsFile: writeSecret(t, "credentials", fmt.Sprintf(
			"[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = nope\n\n# the key failberry uses\n[failberry]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
			testKeyID, secret), 0o600),
		Profile:       "failberry",
		SetIdentifier: "cellular",
		Failover:      "SECONDARY",
		HealthCheckID: "abcdef11-2222-3333-4444-555555fedcba",
		Endpoint:      s.URL,
	}
	return c
}

func TestRoute53UpsertsTheFailoverRecord(t *testing.T) {
	s := newRoute53Server(t)
	p, err := NewProvider(s.config(t, testSecret), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, a := range []netip.Addr{addr1, addr6} {
		if err := p.Update(ctx, "vpn.example.com", a); err != nil {
			t.Fatalf("update %v: %v", a, err)
		}
	}
	got := s.got()
	if len(got) != 2 {
		t.Fatalf("server got %d changes, want 2", len(got))
	}
	for i, want := range []struct{ typ, value string }{{"A", addr1.String()}, {"AAAA", addr6.String()}} {
		c := got[i]
		if c.Action != "UPSERT" || c.Set.Name != "vpn.example.com" || c.Set.Type != want.typ || c.Set.TTL != 60 ||
			len(c.Set.Values) != 1 || c.Set.Values[0] != want.value {
			t.Errorf("change %d: %+v, want UPSERT vpn.example.com %s TTL 60 %s", i, c, want.typ, want.value)
		}
		if c.Set.SetIdentifier != "cellular" || c.Set.Failover != "SECONDARY" || c.Set.HealthCheckID != "abcdef11-2222-3333-4444-555555fedcba" {
			t.Errorf("change %d lacks the failover member's identity: %+v", i, c.Set)
		}
	}
}

func TestRoute53PlainRecordHasNoFailoverFields(t *testing.T) {
	s := newRoute53Server(t)
	c := s.config(t, testSecret)
	c.Route53.SetIdentifier, c.Route53.Failover, c.Route53.HealthCheckID = "", "", ""
	c.TTL = 300
	p, _ := NewProvider(c, nil)
	if err := p.Update(context.Background(), c.Name, addr1); err != nil {
		t.Fatal(err)
	}
	if got := s.got(); len(got) != 1 || got[0].Set.SetIdentifier != "" || got[0].Set.Failover != "" || got[0].Set.TTL != 300 {
		t.Errorf("got %+v", got)
	}
}

func TestRoute53Errors(t *testing.T) {
	s := newRoute53Server(t)
	ctx := context.Background()

	p, _ := NewProvider(s.config(t, "not-the-secret"), nil)
	err := p.Update(ctx, "vpn.example.com", addr1)
	if !isPermanent(err) || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %v, want a permanent SignatureDoesNotMatch", err)
	}

	c := s.config(t, testSecret)
	c.Route53.HostedZoneID = "ZNOTMINE"
	p, _ = NewProvider(c, nil)
	if err := p.Update(ctx, "vpn.example.com", addr1); !isPermanent(err) || !strings.Contains(err.Error(), "NoSuchHostedZone") {
		t.Errorf("unknown zone: %v, want a permanent NoSuchHostedZone", err)
	}

	p, _ = NewProvider(s.config(t, testSecret), nil)
	for _, e := range []scripted{{Code: 400, Body: "Throttling"}, {Code: 400, Body: "PriorRequestNotComplete"}, {Code: 503, Body: "ServiceUnavailable"}} {
		s.Script(e)
		if err := p.Update(ctx, "vpn.example.com", addr1); !isTransient(err) || !strings.Contains(err.Error(), e.Body) {
			t.Errorf("%d %s: %v, want a transient error", e.Code, e.Body, err)
		}
	}
	s.Script(scripted{Code: 400, Body: "InvalidChangeBatch"})
	if err := p.Update(ctx, "vpn.example.com", addr1); !isPermanent(err) {
		t.Errorf("InvalidChangeBatch: %v, want permanent", err)
	}
	if n := len(s.got()); n != 4 { // the wrong-secret and wrong-zone requests never got that far
		t.Errorf("server parsed %d change batches, want 4", n)
	}
}

func TestRoute53CredentialsFile(t *testing.T) {
	s := newRoute53Server(t)
	ctx := context.Background()
	c := s.config(t, testSecret)

	c.Route53.CredentialsFile = writeSecret(t, "open", "[failberry]\naws_access_key_id = "+testKeyID+"\naws_secret_access_key = "+testSecret+"\n", 0o644)
	p, _ := NewProvider(c, nil)
	if err := p.Update(ctx, c.Name, addr1); !isPermanent(err) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable credentials: %v, want a permanent error saying chmod 600", err)
	}

	c.Route53.CredentialsFile = writeSecret(t, "empty", "[default]\naws_access_key_id = "+testKeyID+"\n", 0o600)
	p, _ = NewProvider(c, nil)
	if err := p.Update(ctx, c.Name, addr1); !isPermanent(err) || !strings.Contains(err.Error(), "[failberry]") {
		t.Errorf("profile missing: %v, want a permanent error naming the profile", err)
	}
	if n := len(s.got()); n != 0 {
		t.Errorf("server got %d requests, want none", n)
	}
}

// The Updater over Route 53: the latency figure for the signed path.
func TestUpdaterRoute53Latency(t *testing.T) {
	s := newRoute53Server(t)
	u := newUpdater(t, s.config(t, testSecret), Options{})
	run(t, u)
	u.Set(addr1, noAddr)
	eventually(t, 5*time.Second, "first record", func() bool { return len(s.got()) == 1 })
	start := time.Now()
	u.Set(addr2, noAddr)
	eventually(t, 5*time.Second, "the new address at the server", func() bool {
		g := s.got()
		return len(g) == 2 && g[1].Set.Values[0] == addr2.String()
	})
	t.Logf("Route 53 update after an address change reached the server within %v", time.Since(start))
}
