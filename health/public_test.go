package health

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type flag struct{ v atomic.Bool }

func (f *flag) Alive() bool      { return f.v.Load() }
func (f *flag) CellularOK() bool { return f.v.Load() }

func newFlag(v bool) *flag { f := &flag{}; f.v.Store(v); return f }

// startPublic runs the public server on a loopback port.
func startPublic(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewPublicServer(ln.Addr().String(), h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawRequest sends a request line and headers as written and returns the response.
func rawRequest(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response to %q: %v", req[:min(len(req), 60)], err)
	}
	return resp
}

var (
	ipPattern      = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b|\[?[0-9a-fA-F]*:[0-9a-fA-F]*:[0-9a-fA-F:]*\]?`)
	versionPattern = regexp.MustCompile(`(?i)go1\.|\bv\d+\.\d+|version|failberry/|golang|<html|pprof|goroutine`)
)

func checkNoLeak(t *testing.T, name string, resp *http.Response, body string) {
	t.Helper()
	if s := resp.Header.Get("Server"); s != "" {
		t.Errorf("%s: Server header %q", name, s)
	}
	if l := resp.Header.Get("Location"); l != "" || (resp.StatusCode >= 300 && resp.StatusCode < 400) {
		t.Errorf("%s: redirect %d to %q", name, resp.StatusCode, l)
	}
	for k, vs := range resp.Header {
		if k == "Date" {
			continue
		}
		for _, v := range vs {
			if versionPattern.MatchString(v) || ipPattern.MatchString(v) {
				t.Errorf("%s: header %s: %q leaks", name, k, v)
			}
		}
	}
	if versionPattern.MatchString(body) || ipPattern.MatchString(body) {
		t.Errorf("%s: body %q leaks", name, body)
	}
	if regexp.MustCompile(`\d`).MatchString(strings.TrimPrefix(body, fmt.Sprint(resp.StatusCode))) {
		t.Errorf("%s: body %q has digits", name, body)
	}
}

func TestPublicEndpoint(t *testing.T) {
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"}
	paths := []string{"/", "/cellular", "/status", "/metrics", "/debug/pprof/", "/../etc/passwd",
		"//", "/cellular/", "/CELLULAR", "/?x=1", "/index.html", "/%2e%2e/etc/passwd", "/cellular?verbose=1"}
	for _, alive := range []bool{true, false} {
		for _, cell := range []bool{true, false} {
			addr := startPublic(t, NewPublicHandler(newFlag(alive), newFlag(cell)))
			for _, m := range methods {
				for _, p := range paths {
					name := fmt.Sprintf("alive=%v cell=%v %s %s", alive, cell, m, p)
					req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", m, p)
					resp := rawRequest(t, addr, req)
					b, _ := io.ReadAll(resp.Body)
					body := string(b)
					wantCode, wantBody := expectPublic(alive, cell, m, p)
					if resp.StatusCode != wantCode {
						t.Errorf("%s: status %d, want %d", name, resp.StatusCode, wantCode)
					}
					if m == "HEAD" {
						wantBody = ""
					}
					if wantBody != "" || m == "HEAD" {
						if body != wantBody {
							t.Errorf("%s: body %q, want %q", name, body, wantBody)
						}
					}
					checkNoLeak(t, name, resp, body)
				}
			}
		}
	}
}

// expectPublic is the contract of the public endpoint, written out.
func expectPublic(alive, cell bool, method, path string) (int, string) {
	p, _, _ := strings.Cut(path, "?")
	if p != "/" && p != "/cellular" {
		return 404, "not found\n"
	}
	if method != "GET" && method != "HEAD" {
		return 405, "method not allowed\n"
	}
	if p == "/" {
		if alive {
			return 200, "failberry ok\n"
		}
		return 503, "failberry down\n"
	}
	if cell {
		return 200, "cellular ok\n"
	}
	return 503, "cellular down\n"
}

func TestPublicEndpointMalformedRequests(t *testing.T) {
	addr := startPublic(t, NewPublicHandler(newFlag(true), newFlag(true)))
	long := "GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + strings.Repeat("a", 16<<10) + "\r\n\r\n"
	cases := []struct {
		name string
		req  string
		code int
	}{
		{"long header", long, 431},
		{"bad request line", "GARBAGE\r\n\r\n", 400},
		{"absolute URI", "GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"http/1.0", "GET /cellular HTTP/1.0\r\n\r\n", 200},
		{"CONNECT", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", 404},
		// net/http answers "OPTIONS *" itself with an empty 200.
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200},
	}
	for _, c := range cases {
		resp := rawRequest(t, addr, c.req)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.code {
			t.Errorf("%s: status %d, want %d (%q)", c.name, resp.StatusCode, c.code, b)
		}
		checkNoLeak(t, c.name, resp, string(b))
	}
}

func TestPublicHandlerNilStateIsDown(t *testing.T) {
	addr := startPublic(t, NewPublicHandler(nil, nil))
	for _, p := range []string{"/", "/cellular"} {
		resp := rawRequest(t, addr, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 503 {
			t.Errorf("%s with nil state: %d, want 503", p, resp.StatusCode)
		}
	}
}

func TestPublicServerSettings(t *testing.T) {
	s := NewPublicServer(":9000", http.NotFoundHandler())
	got := []any{s.Addr, s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes}
	want := []any{":9000", 2 * time.Second, 5 * time.Second, 5 * time.Second, 30 * time.Second, 4096}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server settings %v, want %v", got, want)
	}
}

func TestHeartbeat(t *testing.T) {
	now := time.Unix(1000, 0)
	h := NewHeartbeat(10 * time.Second)
	h.now = func() time.Time { return now }
	if h.Alive() || !h.Last().IsZero() {
		t.Fatal("alive before the first beat")
	}
	h.Beat()
	if !h.Alive() || !h.Last().Equal(now) {
		t.Fatal("not alive right after a beat")
	}
	now = now.Add(11 * time.Second)
	if h.Alive() {
		t.Fatal("alive 11s after the last beat with maxAge 10s")
	}
}
