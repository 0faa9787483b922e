package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// receiver is a real HTTP server that records the POSTs it gets.
type receiver struct {
	mu     sync.Mutex
	got    []webhookBody
	tokens []string
	status int // answer; 0: 200
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var b webhookBody
	if err := json.NewDecoder(req.Body).Decode(&b); err != nil || req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status != 0 {
		w.WriteHeader(r.status)
		return
	}
	r.got, r.tokens = append(r.got, b), append(r.tokens, req.Header.Get("Authorization"))
}

func (r *receiver) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.got {
		out = append(out, b.Kind)
	}
	return out
}

// serve starts srv on addr (retrying while the port is still being freed).
func serve(t *testing.T, addr string, h http.Handler) *http.Server {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return srv
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// While the receiver is down the events wait; when it comes back each
// arrives once, in order, with the token read from its file.
func TestWebhookReceiverDown(t *testing.T) {
	addr := freeAddr(t) // nothing listens: connection refused
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("Bearer tk_secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig().Webhook
	c.URL, c.QueueSize = "http://"+addr+"/hook", 10
	c.Headers = []Header{{Name: "Authorization", File: token}}
	w := newWebhook(c, "gw", slog.New(slog.DiscardHandler))
	w.minBackoff, w.maxBackoff = 20*time.Millisecond, 200*time.Millisecond
	q := newQueue("webhook", c.QueueSize, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.run(ctx, q); close(done) }()
	defer func() { cancel(); <-done }()

	var want []string
	for i := range 8 {
		k := fmt.Sprintf("event-%d", i)
		want = append(want, k)
		q.put(Event{Kind: k, ID: "id", Message: "m", Time: time.Now()})
		time.Sleep(50 * time.Millisecond) // down for 400 ms, retrying
	}
	rec := &receiver{}
	serve(t, addr, rec)
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.kinds()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive by now
	if got := rec.kinds(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("receiver got %v, want %v once each, in order", got, want)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) > 0 && (rec.tokens[0] != "Bearer tk_secret" || rec.got[0].Host != "gw" || rec.got[0].ID != "id") {
		t.Errorf("first POST: token %q, body %+v", rec.tokens[0], rec.got[0])
	}
	if q.dropped.Load() != 0 {
		t.Errorf("%d dropped with room in the queue", q.dropped.Load())
	}
}

// A 4xx cannot be fixed by retrying: the event is dropped and the next one
// goes out; a 503 is retried.
func TestWebhookRefusedAndRetried(t *testing.T) {
	rec := &receiver{status: http.StatusUnauthorized}
	addr := freeAddr(t)
	serve(t, addr, rec)
	c := DefaultConfig().Webhook
	c.URL = "http://" + addr + "/"
	w := newWebhook(c, "gw", slog.New(slog.DiscardHandler))
	w.minBackoff, w.maxBackoff = 10*time.Millisecond, 10*time.Millisecond
	ctx := context.Background()
	if !w.deliver(ctx, Event{Kind: "refused"}) {
		t.Fatal("deliver ended")
	}
	var calls int
	w.after = func(d time.Duration) <-chan time.Time {
		calls++
		if calls == 2 {
			rec.mu.Lock()
			rec.status = 0
			rec.mu.Unlock()
		}
		return time.After(d)
	}
	rec.mu.Lock()
	rec.status = http.StatusServiceUnavailable
	rec.mu.Unlock()
	w.deliver(ctx, Event{Kind: "retried"})
	if got := rec.kinds(); fmt.Sprint(got) != "[retried]" || calls != 2 {
		t.Errorf("receiver got %v after %d backoffs, want [retried] after 2", got, calls)
	}
}
