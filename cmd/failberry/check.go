package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/daemon"
)

// cmdCheck validates a config without touching the system: it prints the
// effective settings and the firewall rules they would produce.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath, "config file")
	quiet := fs.Bool("q", false, "only validate; print nothing when valid")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	cfg, err := config.Load(*path, daemon.ConfigChecks...)
	if err != nil {
		return configError(err)
	}
	rules, err := firewall.Build(daemon.FirewallPolicy(cfg))
	if err != nil {
		return fmt.Errorf("%s: firewall: %w", *path, err)
	}
	if *quiet {
		return nil
	}
	fmt.Fprintf(stdout, "# %s is valid. Effective settings (defaults filled in):\n", *path)
	fmt.Fprint(stdout, cfg.Effective())
	if cfg.Firewall.Enabled {
		fmt.Fprintln(stdout, "\n# Firewall rules failberry keeps while running (iptables-save form):")
		fmt.Fprint(stdout, rules.String())
	} else {
		fmt.Fprintln(stdout, "\n# firewall.enabled is false: failberry leaves iptables alone.")
	}
	checkInbound(ctx, cfg.RunDir, stdout)
	return nil
}

// checkInbound tells what only the running daemon knows: whether the
// internet can reach the cellular address it has now. Without a running
// daemon it says nothing; check never waits long for one.
func checkInbound(ctx context.Context, runDir string, stdout io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	body, err := controlAt(ctx, runDir, http.MethodGet, "/status", "")
	var st health.Status
	if err != nil || json.Unmarshal(body, &st) != nil || st.Inbound.Address == "" {
		return
	}
	if st.Inbound.StickNAT {
		fmt.Fprintf(stdout, "\n# Inbound: the cellular address %s is behind the stick's NAT: %s.\n", st.Inbound.Address, health.StickNATAdvice)
		return
	}
	if st.Inbound.CarrierNAT {
		fmt.Fprintf(stdout, "\n# Inbound: the cellular address %s is behind the carrier's NAT: %s.\n", st.Inbound.Address, health.CarrierNATAdvice)
		return
	}
	fmt.Fprintf(stdout, "\n# Inbound: the cellular address %s can be reached from the internet.\n", st.Inbound.Address)
}

// configError turns a config problem into a message that lists every problem
// (file, line, key, what to do) and a distinct exit status.
func configError(err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return &exitError{3, fmt.Errorf("invalid config:\n%w", err)}
	}
	return &exitError{3, err}
}
