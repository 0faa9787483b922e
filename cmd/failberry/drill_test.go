package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/health"
)

// fakeGateway is the control socket of a daemon in gateway mode whose
// uplink state the test scripts: each GET /status serves the next state
// (the last one for ever), and every request is recorded.
type fakeGateway struct {
	mu     sync.Mutex
	states []health.UplinkStatus
	reqs   []string
	polled chan struct{}
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI())
	switch {
	case r.URL.Path == "/drill":
		w.Write([]byte("ok\n"))
	case r.URL.Path == "/status":
		u := f.states[0]
		if len(f.states) > 1 {
			f.states = f.states[1:]
		}
		st := health.Status{Route: health.RouteStatus{Mode: "gateway", Uplink: &u}}
		if u.Active == "" { // a daemon just started, its watch not up yet
			st.Route.Uplink = nil
		}
		json.NewEncoder(w).Encode(st)
		select {
		case f.polled <- struct{}{}:
		default:
		}
	}
}

func (f *fakeGateway) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func serveGateway(t *testing.T, states ...health.UplinkStatus) (*fakeGateway, string) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "failberry.yaml")
	if err := os.WriteFile(cfg, []byte("modem:\n  apn: internet\nrun_dir: "+dir+"\nroute:\n  mode: gateway\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGateway{states: states, polled: make(chan struct{}, 1)}
	srv := &http.Server{Handler: f}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f, cfg
}

// TestDrillNarratesToFailback: the drill is asked for with its duration,
// each change of the uplink is told once (a daemon that restarted and has
// no decision yet is waited for), and the command ends by itself once
// traffic is back on the primary, without stopping the drill.
func TestDrillNarratesToFailback(t *testing.T) {
	now := time.Now()
	until, back := now.Add(time.Minute), now.Add(2*time.Minute)
	drilling := health.UplinkStatus{Active: "cellular", Since: now, DrillUntil: &until}
	held := health.UplinkStatus{Active: "cellular", Since: now, BackAt: &back}
	restarted := health.UplinkStatus{}
	f, cfg := serveGateway(t, drilling, restarted, drilling, held, held, health.UplinkStatus{Active: "primary", Since: back})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cmdDrill(ctx, []string{"--for", "1m", "--config", cfg}, &out, &out); err != nil {
		t.Fatalf("drill: %v\n%s", err, out.String())
	}
	reqs := f.requests()
	if reqs[0] != "POST /drill?for=1m0s" || strings.Contains(strings.Join(reqs, " "), "DELETE") {
		t.Errorf("requests %v, want the drill asked for 1m and never stopped", reqs)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "drill until") || !strings.Contains(lines[2], "moves back at") ||
		!strings.Contains(lines[3], "back on the primary") {
		t.Errorf("narration, want the start and three changes, each once:\n%s", out.String())
	}
}

// TestDrillCtrlC: an interrupted drill command stops the drill.
func TestDrillCtrlC(t *testing.T) {
	until := time.Now().Add(time.Hour)
	f, cfg := serveGateway(t, health.UplinkStatus{Active: "cellular", Since: time.Now(), DrillUntil: &until})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.polled; cancel() }()
	var out bytes.Buffer
	if err := cmdDrill(ctx, []string{"--config", cfg}, &out, &out); err != nil {
		t.Fatalf("drill: %v\n%s", err, out.String())
	}
	reqs := f.requests()
	if reqs[0] != "POST /drill?for=2m0s" || reqs[len(reqs)-1] != "DELETE /drill" {
		t.Errorf("requests %v, want the default 2m drill asked for, then stopped", reqs)
	}
}
