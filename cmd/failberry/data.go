package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"

	"github.com/failberry/failberry/internal/config"
)

// cmdData is `failberry data reset`: the running daemon starts the billing
// period's count again from zero and lifts the cap's action (after a top-up,
// or when the carrier's period does not match the meter's).
func cmdData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath, "config file (for run_dir)")
	usage := &exitError{2, errors.New("usage: failberry data reset [--config FILE] (the period's use is shown by failberry status)")}
	if len(args) == 0 || args[0] != "reset" {
		return usage
	}
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() != 0 {
		return usage
	}
	body, err := control(ctx, *path, http.MethodPost, "/data/reset", "")
	if err != nil {
		return err
	}
	_, err = stdout.Write(body)
	return err
}
