package ddns

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/failberry/failberry/internal/config/value"
)

// Test credentials: AWS's documentation example key.
const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testZone   = "Z0123456789ABCDEFGHIJ"
)

// route53Server is Route 53's ChangeResourceRecordSets as its API reference
// describes it: POST /2013-04-01/hostedzone/{Id}/rrset/ with a
// ChangeResourceRecordSetsRequest XML body, signed with SigV4 for service
// route53 in us-east-1. It recomputes the signature with the test key over
// the request as received and answers 403 SignatureDoesNotMatch when it
// differs, as Route 53 does; otherwise it parses the change batch and answers
// a PENDING ChangeInfo, or the next scripted error.
type route53Server struct {
	*httptest.Server

	mu      sync.Mutex
	changes []r53Change
	errs    []scripted
}

type r53Request struct {
	XMLName     xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string      `xml:"Comment"`
		Changes []r53Change `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type r53Change struct {
	Action string `xml:"Action"`
	Set    struct {
		Name          string   `xml:"Name"`
		Type          string   `xml:"Type"`
		TTL           int      `xml:"TTL"`
		SetIdentifier string   `xml:"SetIdentifier"`
		Failover      string   `xml:"Failover"`
		HealthCheckID string   `xml:"HealthCheckId"`
		Values        []string `xml:"ResourceRecords>ResourceRecord>Value"`
	} `xml:"ResourceRecordSet"`
}

func newRoute53Server(t *testing.T) *route53Server {
	s := &route53Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2013-04-01/hostedzone/{zone}/{op...}", s.serve)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func r53Error(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, `<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>6fe1a2b5-test</RequestId></ErrorResponse>`,
		errCode, msg)
}

func (s *route53Server) serve(w http.ResponseWriter, r *http.Request) {
	if op := r.PathValue("op"); op != "rrset" && op != "rrset/" {
		r53Error(w, http.StatusNotFound, "NotFound", "no such operation")
		return
	}
	body, _ := io.ReadAll(r.Body)
	if err := checkSigV4(r, body); err != nil {
		r53Error(w, http.StatusForbidden, "SignatureDoesNotMatch", err.Error())
		return
	}
	if r.PathValue("zone") != testZone {
		r53Error(w, http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: "+r.PathValue("zone"))
		return
	}
	var req r53Request
	if err := xml.Unmarshal(body, &req); err != nil || len(req.ChangeBatch.Changes) == 0 {
		r53Error(w, http.StatusBadRequest, "InvalidInput", fmt.Sprintf("bad change batch: %v", err))
		return
	}
	s.mu.Lock()
	s.changes = append(s.changes, req.ChangeBatch.Changes...)
	var e *scripted
	if len(s.errs) > 0 {
		e = &s.errs[0]
		s.errs = s.errs[1:]
	}
	s.mu.Unlock()
	if e != nil {
		r53Error(w, e.code, e.body, "scripted")
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status><SubmittedAt>%s</SubmittedAt><Comment>%s</Comment></ChangeInfo></ChangeResourceRecordSetsResponse>`,
		time.Now().UTC().Format(time.RFC3339), req.ChangeBatch.Comment)
}

// checkSigV4 recomputes the request's SigV4 signature with the test key:
// a copy of the request carrying only the headers it says it signed is
// signed again with the SDK's signer, at the time of its X-Amz-Date, over
// the SHA-256 of the body as received, and the two Authorization headers
// must be equal.
func checkSigV4(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	const alg = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, alg) {
		return fmt.Errorf("not a SigV4 Authorization header: %q", auth)
	}
	parts := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, alg), ", ") {
		k, v, _ := strings.Cut(kv, "=")
		parts[k] = v
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || scope[0] != testKeyID || scope[2] != "us-east-1" || scope[3] != "route53" || scope[4] != "aws4_request" {
		return fmt.Errorf("credential scope %q", parts["Credential"])
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signed at %v, too far from now", at)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != hash {
		return fmt.Errorf("X-Amz-Content-Sha256 %s does not match the body", h)
	}
	cp, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	cp.Host = r.Host
	cp.ContentLength = r.ContentLength
	for _, h := range strings.Split(parts["SignedHeaders"], ";") {
		if h != "host" && h != "content-length" {
			cp.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hash, "route53", "us-east-1", at); err != nil {
		return err
	}
	if want := cp.Header.Get("Authorization"); want != auth {
		return fmt.Errorf("signature does not match: got %q, want %q", auth, want)
	}
	return nil
}

func (s *route53Server) got() []r53Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]r53Change(nil), s.changes...)
}

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
	for _, e := range []scripted{{400, "Throttling"}, {400, "PriorRequestNotComplete"}, {503, "ServiceUnavailable"}} {
		s.mu.Lock()
		s.errs = append(s.errs, e)
		s.mu.Unlock()
		if err := p.Update(ctx, "vpn.example.com", addr1); !isTransient(err) || !strings.Contains(err.Error(), e.body) {
			t.Errorf("%d %s: %v, want a transient error", e.code, e.body, err)
		}
	}
	s.mu.Lock()
	s.errs = append(s.errs, scripted{400, "InvalidChangeBatch"})
	s.mu.Unlock()
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
