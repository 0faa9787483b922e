// Command failberry is the cellular failover gateway: one daemon that dials a
// USB 3G/4G modem, runs PPP, keeps NAT and the default route, recovers the
// modem on its own and answers Route 53 health checks on :9000.
//
//	failberry run      the daemon (what the systemd unit starts)
//	failberry status   what the running daemon sees (--json for the raw form)
//	failberry check    validate the config and print the effective settings
//	failberry at CMD   send an AT command through the running daemon
//	failberry usb      USB hub port power: status, off, on, cycle
//	failberry data reset  count the billing period from zero, lift the cap
//	failberry version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries a specific exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run the daemon", cmdRun},
		{"status", "show the running daemon's state", cmdStatus},
		{"check", "validate the config and print the effective settings and firewall rules", cmdCheck},
		{"at", "send an AT command to the modem", cmdAT},
		{"usb", "USB hub port power: status|off|on|cycle", cmdUSB},
		{"data", "data meter: reset (count the period from zero, lift the cap)", cmdData},
		{"drill", "rehearse an outage of the primary uplink (gateway mode): --for 2m", cmdDrill},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	fmt.Fprintln(os.Stderr, "failberry:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return &exitError{2, errors.New("no command given")}
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return &exitError{2, fmt.Errorf("unknown command %q", args[0])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: failberry <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'failberry <command> -h' for a command's flags.")
}

func cmdVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "failberry", version)
	return nil
}
