package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/daemon"
)

// cmdCheck validates a config without touching the system: it prints the
// effective settings and the firewall rules they would produce.
func cmdCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
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
	return nil
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
