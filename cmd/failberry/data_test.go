package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataReset: `failberry data reset --config F` posts to the control
// socket of F's run_dir; other arguments are a usage error.
func TestDataReset(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "failberry.yaml")
	if err := os.WriteFile(cfg, []byte("modem:\n  apn: internet\nrun_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path
		w.Write([]byte("reset\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	out, _, err := runCLI(t, "data", "reset", "--config", cfg)
	if err != nil || out != "reset\n" {
		t.Fatalf("data reset: %q, %v", out, err)
	}
	if req := <-got; req != "POST /data/reset" {
		t.Errorf("daemon got %q, want POST /data/reset", req)
	}
	for _, args := range [][]string{{"data"}, {"data", "show"}, {"data", "reset", "extra"}} {
		if _, _, err := runCLI(t, args...); exitCode(err) != 2 || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%v: want a usage error (exit 2), got %v", args, err)
		}
	}
}
