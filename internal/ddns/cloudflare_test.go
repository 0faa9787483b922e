package ddns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// cloudflareServer is the part of Cloudflare's API v4 the provider uses, as
// the API reference describes it: list records by type and name, PATCH one,
// POST a new one, each with "Authorization: Bearer TOKEN", answered in the
// {"success","errors","messages","result"} envelope. It keeps a zone's
// records, so the test sees what the dashboard would show.
type cloudflareServer struct {
	*httptest.Server
	token, zone string

	mu      sync.Mutex
	records map[string]*cfTestRecord
	writes  []string // "PATCH id" or "POST type"
	lastID  int
	errs    []scripted
}

type cfTestRecord struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
	TTL     int    `json:"ttl"`
	Proxied bool   `json:"proxied"`
	Comment string `json:"comment"`
}

func newCloudflareServer(t *testing.T) *cloudflareServer {
	s := &cloudflareServer{token: "cf-test-token", zone: "023e105f4ecef8ad9ca31a8372d0c353", records: map[string]*cfTestRecord{}}
	mux := http.NewServeMux()
	base := "/client/v4/zones/{zone}/dns_records"
	mux.HandleFunc("GET "+base, s.auth(s.list))
	mux.HandleFunc("POST "+base, s.auth(s.create))
	mux.HandleFunc("PATCH "+base+"/{id}", s.auth(s.patch))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func cfReply(w http.ResponseWriter, code int, result any, errs ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	type e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	var list []e
	for _, m := range errs {
		c, msg, _ := strings.Cut(m, " ")
		var n int
		fmt.Sscan(c, &n)
		list = append(list, e{n, msg})
	}
	json.NewEncoder(w).Encode(map[string]any{"success": len(errs) == 0, "errors": list, "messages": []string{}, "result": result})
}

func (s *cloudflareServer) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			cfReply(w, http.StatusForbidden, nil, "10000 Authentication error")
			return
		}
		if r.PathValue("zone") != s.zone {
			cfReply(w, http.StatusNotFound, nil, "7003 Could not route to /zones/"+r.PathValue("zone"))
			return
		}
		if r.Method != http.MethodGet && r.Header.Get("Content-Type") != "application/json" {
			cfReply(w, http.StatusBadRequest, nil, "6003 Invalid request headers")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.errs) > 0 {
			e := s.errs[0]
			s.errs = s.errs[1:]
			w.Header().Set("Retry-After", "7")
			cfReply(w, e.Code, nil, e.Body)
			return
		}
		h(w, r)
	}
}

func (s *cloudflareServer) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	found := []*cfTestRecord{}
	for _, rec := range s.records {
		if rec.Type == q.Get("type") && rec.Name == q.Get("name") {
			found = append(found, rec)
		}
	}
	cfReply(w, http.StatusOK, found)
}

func (s *cloudflareServer) create(w http.ResponseWriter, r *http.Request) {
	var rec cfTestRecord
	if err := json.NewDecoder(r.Body).Decode(&rec); err != nil || rec.Name == "" || (rec.Type != "A" && rec.Type != "AAAA") {
		cfReply(w, http.StatusBadRequest, nil, "9000 bad record")
		return
	}
	if !validContent(rec.Type, rec.Content) {
		cfReply(w, http.StatusBadRequest, nil, "9005 Content for "+rec.Type+" record is invalid")
		return
	}
	s.lastID++
	rec.ID = fmt.Sprintf("rec%d", s.lastID)
	s.records[rec.ID] = &rec
	s.writes = append(s.writes, "POST "+rec.Type)
	cfReply(w, http.StatusOK, rec)
}

func (s *cloudflareServer) patch(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.records[r.PathValue("id")]
	if !ok {
		cfReply(w, http.StatusNotFound, nil, "81044 Record does not exist")
		return
	}
	var fields map[string]any
	if err := json.NewDecoder(r.Body).Decode(&fields); err != nil {
		cfReply(w, http.StatusBadRequest, nil, "9000 bad body")
		return
	}
	if c, ok := fields["content"].(string); ok {
		if !validContent(rec.Type, c) {
			cfReply(w, http.StatusBadRequest, nil, "9005 Content for "+rec.Type+" record is invalid")
			return
		}
		rec.Content = c
	}
	if ttl, ok := fields["ttl"].(float64); ok {
		rec.TTL = int(ttl)
	}
	if p, ok := fields["proxied"].(bool); ok {
		rec.Proxied = p
	}
	s.writes = append(s.writes, "PATCH "+rec.ID)
	cfReply(w, http.StatusOK, rec)
}

func validContent(typ, c string) bool {
	a, err := netip.ParseAddr(c)
	return err == nil && (typ == "A") == a.Is4()
}

func (s *cloudflareServer) config(t *testing.T, token string) Config {
	c := DefaultConfig()
	c.Provider = ProviderCloudflare
	c.Name = "vpn.example.com"
	c.Cloudflare = CloudflareConfig{ZoneID: s.zone, TokenFile: writeSecret(t, "token", token, 0o600), API: s.URL + "/client/v4"}
	return c
}

func TestCloudflare(t *testing.T) {
	s := newCloudflareServer(t)
	s.records["rec0"] = &cfTestRecord{ID: "rec0", Type: "A", Name: "vpn.example.com", Content: "192.0.2.1", TTL: 3600, Proxied: true, Comment: "set by hand"}
	s.records["other"] = &cfTestRecord{ID: "other", Type: "A", Name: "www.example.com", Content: "192.0.2.80", TTL: 1}
	p, err := NewProvider(s.config(t, s.token), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, a := range []netip.Addr{addr1, addr6, addr1} { // the last one changes nothing
		if err := p.Update(ctx, "vpn.example.com", a); err != nil {
			t.Fatalf("update %v: %v", a, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := strings.Join(s.writes, ", "); got != "PATCH rec0, POST AAAA" {
		t.Errorf("writes %q, want the A record patched, the AAAA created, then nothing", got)
	}
	a := s.records["rec0"]
	if a.Content != addr1.String() || a.TTL != 60 || !a.Proxied || a.Comment != "set by hand" {
		t.Errorf("A record %+v, want the new address and TTL 60, proxied and comment kept", a)
	}
	if s.records["rec1"].Content != addr6.String() || s.records["rec1"].Proxied {
		t.Errorf("AAAA record %+v", s.records["rec1"])
	}
	if s.records["other"].Content != "192.0.2.80" {
		t.Errorf("another record was changed: %+v", s.records["other"])
	}
}

func TestCloudflareErrors(t *testing.T) {
	s := newCloudflareServer(t)
	ctx := context.Background()
	p, _ := NewProvider(s.config(t, "revoked"), nil)
	if err := p.Update(ctx, "vpn.example.com", addr1); !isPermanent(err) || !strings.Contains(err.Error(), "10000 Authentication error") {
		t.Errorf("bad token: %v, want a permanent error with Cloudflare's message", err)
	}

	p, _ = NewProvider(s.config(t, s.token), nil)
	s.mu.Lock()
	s.errs = []scripted{{Code: 429, Body: "10100 Rate limited"}}
	s.mu.Unlock()
	err := p.Update(ctx, "vpn.example.com", addr1)
	var tr *TransientError
	if !errors.As(err, &tr) || tr.RetryAfter.Seconds() != 7 {
		t.Errorf("rate limit: %v, want transient with Retry-After 7s", err)
	}

	s.mu.Lock()
	s.records["x"] = &cfTestRecord{ID: "x", Type: "A", Name: "vpn.example.com", Content: "192.0.2.1"}
	s.records["y"] = &cfTestRecord{ID: "y", Type: "A", Name: "vpn.example.com", Content: "192.0.2.2"}
	s.mu.Unlock()
	if err := p.Update(ctx, "vpn.example.com", addr1); !isPermanent(err) || !strings.Contains(err.Error(), "2 A records") {
		t.Errorf("two records: %v, want a permanent error", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.writes) != 0 {
		t.Errorf("writes %v, want none", s.writes)
	}
}
