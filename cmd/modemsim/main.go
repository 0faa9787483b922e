// Command modemsim runs the simulated USB 3G/4G modem (modem/sim) against
// qemu's chardev sockets, a pty or a tty, so failberry can be exercised on
// the bench and in `make demo` without a real modem.
//
//	modemsim --dte /run/bench/modem.sock --carrier /run/bench/isp.sock \
//	    --control /run/bench/modemsim.ctl --qemu-trace qemu-trace.log --hub-port 2
//	modemsim --dte pty --pin 1234
//
// The control socket takes one command per line: "fault <name>",
// "power off|on", "status" (JSON snapshot), "transcript" (lines ended by
// "."), "help".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/failberry/failberry/modem/sim"
)

// options are the command-line flags.
type options struct {
	dte, carrier, control, trace string
	hubPort                      int
	fault                        string
	connectTimeout               time.Duration
	verbose                      bool
	cfg                          sim.Config
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "modemsim:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("modemsim", flag.ContinueOnError)
	fs.StringVar(&o.dte, "dte", "pty", `modem tty side: unix socket path, "pty" (prints the pty path), or a tty device`)
	fs.StringVar(&o.carrier, "carrier", "", "unix socket of the network side (empty: data goes nowhere)")
	fs.StringVar(&o.control, "control", "", "unix socket path for the control protocol (empty: none)")
	fs.StringVar(&o.trace, "qemu-trace", "", "qemu trace log to follow for hub port power (empty: none)")
	fs.IntVar(&o.hubPort, "hub-port", 1, "emulated hub port the modem sits on (with --qemu-trace)")
	fs.StringVar(&o.fault, "fault", "none", "fault to start with")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", time.Minute, "how long to wait for sockets to appear")
	fs.BoolVar(&o.verbose, "v", false, "debug logging")
	c := &o.cfg
	fs.DurationVar(&c.BootDelay, "boot-delay", 2*time.Second, "silence after power-on or AT+CFUN=1,1 (negative: none)")
	fs.DurationVar(&c.RegistrationDelay, "reg-delay", time.Second, "SIM ready to registered (negative: none)")
	fs.DurationVar(&c.ConnectDelay, "connect-delay", 200*time.Millisecond, "ATD to CONNECT (negative: none)")
	fs.DurationVar(&c.GuardTime, "guard-time", time.Second, "+++ escape guard time")
	fs.DurationVar(&c.URCMeanInterval, "urc-interval", 0, "mean gap between random unsolicited lines (0: none)")
	fs.StringVar(&c.PIN, "pin", "", "SIM PIN (empty: SIM not locked)")
	fs.StringVar(&c.PUK, "puk", "12345678", "SIM PUK")
	fs.BoolVar(&c.Roaming, "roaming", false, "register as roaming (stat 5)")
	fs.StringVar(&c.Operator, "operator", "Bench Mobile", "operator name")
	fs.IntVar(&c.AcT, "act", 2, "COPS access technology")
	fs.IntVar(&c.RSSI, "rssi", 20, "AT+CSQ rssi 0..31")
	fs.Int64Var(&c.Seed, "seed", 1, "random seed for URCs and garbage")
	fs.StringVar(&c.Manufacturer, "manufacturer", "ZTE CORPORATION", "AT+CGMI answer")
	fs.StringVar(&c.Model, "model", "MF180", "AT+CGMM answer")
	fs.StringVar(&c.Revision, "revision", "BD_MF180V1.0.0B02", "AT+CGMR answer")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, err := sim.ParseFault(o.fault); err != nil {
		return o, err
	}
	return o, nil
}

func run() error {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	o.cfg.Logger = log.With("component", "modem")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	m := sim.New(o.cfg)
	f, _ := sim.ParseFault(o.fault)
	m.SetFault(f)
	if o.control != "" {
		ln, err := listenControl(o.control)
		if err != nil {
			return err
		}
		defer ln.Close()
		go serveControl(ctx, ln, m, log)
	}
	if o.trace != "" {
		go func() {
			if err := sim.FollowQemuTrace(ctx, o.trace, o.hubPort, m); err != nil {
				log.Error("qemu trace", "err", err)
			}
		}()
	}
	var carrier *redialer
	if o.carrier != "" {
		carrier = newRedialer(ctx, o.carrier, o.connectTimeout, log)
		defer carrier.Close()
	}
	return serveDTE(ctx, o, m, carrier, log)
}
