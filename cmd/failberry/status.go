package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/daemon"
)

// cmdStatus asks the running daemon over its control socket and renders the
// answer for people (or passes the JSON through with --json).
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath, "config file (for run_dir)")
	asJSON := fs.Bool("json", false, "print the raw JSON")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	body, err := control(ctx, *path, http.MethodGet, "/status", "")
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var st health.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	health.RenderStatus(stdout, st)
	return nil
}

// cmdAT sends one AT command through the running daemon, which owns the modem.
func cmdAT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("at", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath, "config file (for run_dir)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() != 1 {
		return &exitError{2, errors.New("usage: failberry at 'AT+CSQ'")}
	}
	body, err := control(ctx, *path, http.MethodPost, "/at", fs.Arg(0))
	if err != nil {
		return err
	}
	_, err = stdout.Write(body)
	return err
}

// control makes one request to the daemon's control socket, found through
// the config's run_dir.
func control(ctx context.Context, cfgPath, method, path, body string) ([]byte, error) {
	runDir := config.Default().RunDir
	if cfg, err := config.Load(cfgPath); err == nil {
		runDir = cfg.RunDir
	}
	return controlAt(ctx, runDir, method, path, body)
}

// controlAt makes one request to the control socket in runDir.
func controlAt(ctx context.Context, runDir, method, path, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://failberry"+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := daemon.ControlClient(runDir).Do(req)
	if err != nil {
		return nil, fmt.Errorf("is the daemon running? (systemctl status failberry): %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", strings.TrimSpace(string(b)))
	}
	return b, nil
}
