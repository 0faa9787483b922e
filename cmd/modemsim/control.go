package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/failberry/failberry/modem/sim"
)

// controller is what the control protocol drives; *sim.Modem implements it.
type controller interface {
	SetFault(sim.Fault)
	PowerOff()
	PowerOn()
	Snapshot() sim.State
	Transcript() string
}

// listenControl listens on a unix socket, replacing a stale one.
func listenControl(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing stale control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

func serveControl(ctx context.Context, ln net.Listener, c controller, log *slog.Logger) {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Error("control accept", "err", err)
			}
			return
		}
		go func() {
			defer conn.Close()
			handleControl(conn, conn, c, log)
		}()
	}
}

// handleControl answers one control line at a time: a one-line reply, or
// for "transcript" a block of lines ended by a line holding ".".
func handleControl(r io.Reader, w io.Writer, c controller, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		reply := controlCommand(strings.Fields(sc.Text()), c, log)
		if _, err := bw.WriteString(reply + "\n"); err != nil {
			return
		}
		if err := bw.Flush(); err != nil {
			return
		}
	}
}

func controlCommand(f []string, c controller, log *slog.Logger) string {
	if len(f) == 0 {
		return "error: empty command"
	}
	switch {
	case f[0] == "fault" && len(f) == 2:
		fault, err := sim.ParseFault(f[1])
		if err != nil {
			return "error: " + err.Error()
		}
		log.Info("control: fault", "fault", fault)
		c.SetFault(fault)
		return "ok"
	case f[0] == "power" && len(f) == 2 && f[1] == "off":
		c.PowerOff()
		return "ok"
	case f[0] == "power" && len(f) == 2 && f[1] == "on":
		c.PowerOn()
		return "ok"
	case f[0] == "status" && len(f) == 1:
		b, err := json.Marshal(c.Snapshot())
		if err != nil {
			return "error: " + err.Error()
		}
		return string(b)
	case f[0] == "transcript" && len(f) == 1:
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimRight(c.Transcript(), "\n"), "\n") {
			if l == "." {
				l = ".."
			}
			b.WriteString(l + "\n")
		}
		return b.String() + "."
	case f[0] == "help":
		return "commands: fault <name>, power off|on, status, transcript"
	}
	return fmt.Sprintf("error: unknown command %q (try help)", strings.Join(f, " "))
}
