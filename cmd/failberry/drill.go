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
	"time"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
)

// cmdDrill is `failberry drill [--for 2m]`: the running daemon makes the
// primary look down to its watch (the real link is not touched), and this
// command narrates what moves until traffic is back on the primary. Ctrl-C
// ends the drill early. The daemon keeps the drill's end on disk: if it
// restarts in between, it carries the drill on and ends it on time, and this
// command keeps narrating once it answers again.
func cmdDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath, "config file (for run_dir)")
	dur := fs.Duration("for", 2*time.Minute, "how long the primary looks down")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() != 0 {
		return &exitError{2, errors.New("usage: failberry drill [--for 2m] [--config FILE]")}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		cfg = config.Default()
	}
	if _, err := controlAt(ctx, cfg.RunDir, http.MethodPost, "/drill?for="+dur.String(), ""); err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	fmt.Fprintf(stdout, "drill: the primary %s counts as down for %s (the link itself is not touched; Ctrl-C ends the drill)\n",
		cfg.Route.WiredInterface, *dur)
	err = narrate(ctx, cfg.RunDir, stdout, time.Second)
	if ctx.Err() == nil {
		return err
	}
	stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := controlAt(stop, cfg.RunDir, http.MethodDelete, "/drill", ""); err != nil {
		return fmt.Errorf("ending the drill: %w", err)
	}
	fmt.Fprintf(stdout, "drill ended early: traffic moves back once the primary has passed its probes for primary.hold (%s)\n",
		time.Duration(cfg.Primary.Hold))
	return nil
}

// narrate polls the daemon's status every period and prints each change of
// the uplink, until traffic is back on the primary with no drill running.
func narrate(ctx context.Context, runDir string, w io.Writer, period time.Duration) error {
	var last, lastErr string
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		st, err := fetchStatus(ctx, runDir)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			if msg := err.Error(); msg != lastErr {
				fmt.Fprintf(w, "%s  the daemon does not answer (%v); waiting for it\n", time.Now().Format(time.TimeOnly), err)
				lastErr = msg
			}
		case st.Route.Mode != "gateway":
			return errors.New("the daemon is not in gateway mode (route.mode: gateway)")
		case st.Route.Uplink == nil: // a daemon that has just started: its watch is not up yet
		default:
			lastErr = ""
			u := st.Route.Uplink
			if line := narration(u, st.Route.Wired); line != last {
				fmt.Fprintf(w, "%s  %s\n", time.Now().Format(time.TimeOnly), line)
				last = line
			}
			if last != "" && u.Active == "primary" && u.DrillUntil == nil && strings.HasPrefix(last, "back on the primary") {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// narration says what the uplink state means for the LAN.
func narration(u *health.UplinkStatus, primary *health.ProbeStats) string {
	probes := ""
	if primary != nil {
		probes = " (primary probes: " + primary.State + ")"
	}
	switch {
	case u.Active == "cellular" && u.DrillUntil != nil:
		return "on cellular: the listed hosts and the Pi leave over cellular, the others are refused; drill until " +
			u.DrillUntil.Local().Format(time.TimeOnly) + probes
	case u.Active == "cellular" && u.BackAt != nil:
		return "on cellular: the primary passes again; traffic moves back at " + u.BackAt.Local().Format(time.TimeOnly) + probes
	case u.Active == "cellular":
		return "on cellular: waiting for the primary to pass its probes" + probes
	case u.DrillUntil != nil:
		return "drill starting" + probes
	}
	return "back on the primary since " + u.Since.Local().Format(time.TimeOnly) +
		": connections that went out over cellular were removed, so they reconnect through the primary"
}

func fetchStatus(ctx context.Context, runDir string) (health.Status, error) {
	var st health.Status
	body, err := controlAt(ctx, runDir, http.MethodGet, "/status", "")
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(body, &st)
}
