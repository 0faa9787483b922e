package ddns

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/config/value"
)

// dyndns2Server is a dyndns2 service as No-IP documents it: GET
// /nic/update, basic auth, hostname and myip (or myipv6) in the query, a
// one-line answer. Wrong credentials get "badauth" and an unknown host
// "nohost", as No-IP answers them; otherwise it answers "good ADDR", or the
// next scripted answer.
type dyndns2Server struct {
	*httptest.Server
	user, pass string

	mu      sync.Mutex
	host    string
	answers []scripted // consumed one per valid request
	got     []dyn2Req
	arrived chan dyn2Req
}

type scripted struct {
	code int
	body string
}

type dyn2Req struct {
	addr netip.Addr
	v6   bool // sent as myipv6
	at   time.Time
}

func newDynDNS2Server(t *testing.T) *dyndns2Server {
	s := &dyndns2Server{user: "ddnskey", pass: "s3cret", host: "vpn.example.com", arrived: make(chan dyn2Req, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *dyndns2Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if r.Method != http.MethodGet || r.URL.Path != "/nic/update" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if !strings.HasPrefix(r.UserAgent(), "failberry ") {
		w.Write([]byte("badagent"))
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.pass {
		w.Write([]byte("badauth"))
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	host := s.host
	s.mu.Unlock()
	if q.Get("hostname") != host {
		w.Write([]byte("nohost"))
		return
	}
	req := dyn2Req{at: time.Now()}
	v4, v6 := q.Get("myip"), q.Get("myipv6")
	var err error
	switch {
	case v4 != "" && v6 == "":
		req.addr, err = netip.ParseAddr(v4)
		err = orErr(err, !req.addr.Is4())
	case v6 != "" && v4 == "":
		req.addr, err = netip.ParseAddr(v6)
		req.v6 = true
		err = orErr(err, !req.addr.Is6())
	default:
		err = errStr("want exactly one of myip and myipv6")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, req)
	var ans *scripted
	if len(s.answers) > 0 {
		ans = &s.answers[0]
		s.answers = s.answers[1:]
	}
	s.mu.Unlock()
	s.arrived <- req
	if ans != nil {
		w.WriteHeader(ans.code)
		w.Write([]byte(ans.body))
		return
	}
	w.Write([]byte("good " + req.addr.String()))
}

func orErr(err error, bad bool) error {
	if err == nil && bad {
		return errStr("address of the wrong family")
	}
	return err
}

func (s *dyndns2Server) script(a ...scripted) {
	s.mu.Lock()
	s.answers = append(s.answers, a...)
	s.mu.Unlock()
}

func (s *dyndns2Server) requests() []dyn2Req {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dyn2Req(nil), s.got...)
}

// config returns a dns: section for this server with the right password.
func (s *dyndns2Server) config(t *testing.T) Config {
	c := DefaultConfig()
	c.Provider = ProviderDynDNS2
	c.Name = s.host
	c.Timeout = value.Duration(2 * time.Second)
	c.DynDNS2 = DynDNS2Config{
		Server:       s.URL,
		Username:     s.user,
		PasswordFile: writeSecret(t, "password", s.pass+"\n", 0o600),
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
		{answer: scripted{200, "good 203.0.113.2"}, ok: true},
		{answer: scripted{200, "nochg 203.0.113.2\n"}, ok: true},
		{answer: scripted{200, "abuse"}, perm: true},
		{answer: scripted{200, "!donator"}, perm: true},
		{answer: scripted{200, "911"}, trans: true},
		{answer: scripted{200, "dnserr"}, trans: true},
		{answer: scripted{502, "<html>bad gateway</html>"}, trans: true},
		{answer: scripted{200, "<html>captive portal</html>"}, trans: true},
		{answer: scripted{403, "forbidden"}, perm: true},
	} {
		s.script(tc.answer)
		err := p.Update(ctx, s.host, addr1)
		if (err == nil) != tc.ok || isPermanent(err) != tc.perm || isTransient(err) != tc.trans {
			t.Errorf("answer %q: got %v (permanent %v), want ok=%v permanent=%v transient=%v",
				tc.answer.body, err, isPermanent(err), tc.ok, tc.perm, tc.trans)
		}
	}
	if n := len(s.requests()); n != 9 {
		t.Errorf("server saw %d valid requests, want 9", n)
	}
}

func TestDynDNS2SendsIPv6AsMyipv6(t *testing.T) {
	s := newDynDNS2Server(t)
	p, _ := NewProvider(s.config(t), nil)
	if err := p.Update(context.Background(), s.host, addr6); err != nil {
		t.Fatal(err)
	}
	if got := s.requests(); len(got) != 1 || !got[0].v6 || got[0].addr != addr6 {
		t.Errorf("server got %+v, want one myipv6=%v", got, addr6)
	}
}

func TestDynDNS2Refusals(t *testing.T) {
	s := newDynDNS2Server(t)
	ctx := context.Background()

	c := s.config(t)
	c.DynDNS2.PasswordFile = writeSecret(t, "wrong", "guess\n", 0o600)
	p, _ := NewProvider(c, nil)
	if err := p.Update(ctx, s.host, addr1); !isPermanent(err) || !strings.Contains(err.Error(), "badauth") {
		t.Errorf("wrong password: %v, want a permanent badauth", err)
	}

	p, _ = NewProvider(s.config(t), nil)
	if err := p.Update(ctx, "other.example.com", addr1); !isPermanent(err) || !strings.Contains(err.Error(), "nohost") {
		t.Errorf("unknown host: %v, want a permanent nohost", err)
	}

	c = s.config(t)
	c.DynDNS2.PasswordFile = writeSecret(t, "open", s.pass, 0o644)
	p, _ = NewProvider(c, nil)
	if err := p.Update(ctx, s.host, addr1); !isPermanent(err) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable password file: %v, want a permanent error saying chmod 600", err)
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("server accepted %d requests, want none", n)
	}
}
