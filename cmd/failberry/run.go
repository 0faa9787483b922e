package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"

	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/daemon"
	"github.com/failberry/failberry/systemd"
)

// cmdRun is the daemon. A config error is reported (on stderr and as a
// journal event) and exits 3 before anything on the system is touched; the
// unit does not restart on that status.
func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath, "config file")
	sysRoot := fs.String("sysfs", "/sys", "sysfs root (for tests)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	cfg, err := config.Load(*path, daemon.ConfigChecks...)
	log := newLogger(stderr, slogLevel(cfg.LogLevel))
	var d *daemon.Daemon
	if err == nil {
		d, err = daemon.New(daemon.Options{Config: cfg, Logger: log, SysRoot: *sysRoot})
	}
	if err != nil {
		events := systemd.NewEvents(log)
		events.Emit(systemd.ConfigError, "config error: "+err.Error(), map[string]string{"CONFIG": *path})
		return configError(err)
	}
	log.Info("failberry starting", "version", version, "config", *path)
	return d.Run(ctx)
}

// slogLevel maps log_level (debug, info, warn or error; config checks it)
// onto slog.
func slogLevel(level string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(level)) != nil {
		return slog.LevelInfo
	}
	return l
}

// newLogger writes plain key=value lines; under systemd the journal adds the
// time and the unit, so the line leaves them out.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if os.Getenv("JOURNAL_STREAM") != "" {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
