package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/failberry/failberry/health"
)

// ControlSocket is the daemon's local control socket (root only): `failberry
// status` and `failberry at` talk to the running daemon through it.
func ControlSocket(runDir string) string { return filepath.Join(runDir, "control.sock") }

// controlServer serves /status (JSON), POST /at and POST /data/reset on
// the control socket.
func (d *Daemon) controlServer() (*http.Server, error) {
	sock := ControlSocket(d.cfg.RunDir)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /status", health.NewStatusHandler(d))
	mux.HandleFunc("POST /at", d.handleAT)
	mux.HandleFunc("POST /data/reset", d.handleDataReset)
	mux.HandleFunc("POST /drill", d.handleDrill)
	mux.HandleFunc("DELETE /drill", d.handleDrill)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, nil
}

// handleAT runs one AT command for `failberry at`, between the daemon's own
// use of the modem. While online the modem's only port carries PPP, so AT is
// refused rather than breaking the link.
func (d *Daemon) handleAT(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 512))
	cmd := strings.TrimSpace(string(b))
	if err != nil || cmd == "" || !strings.HasPrefix(strings.ToUpper(cmd), "AT") {
		http.Error(w, "send one AT command, e.g. AT+CSQ", http.StatusBadRequest)
		return
	}
	out, err := d.RunAT(r.Context(), cmd)
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	fmt.Fprint(w, out)
}

// ErrModemBusy means the modem's port is in use by PPP.
var ErrModemBusy = errors.New("the modem is online: its port carries PPP, so AT commands would break the link")

// RunAT sends one command to the modem when the daemon is not using it. The
// phase is read only once the modem slot is held: the session dials while it
// holds the slot and publishes that the line carries PPP before it gives the
// slot back, so a command that waited for a dial to finish is refused rather
// than written into the data-mode line.
func (d *Daemon) RunAT(ctx context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.slot.take(ctx); err != nil {
		return "", fmt.Errorf("modem busy: %w", err)
	}
	defer d.slot.give()
	switch d.st.currentPhase() {
	case PhaseOnline, PhaseConnecting:
		return "", ErrModemBusy
	}
	tty := d.st.currentTTY()
	if tty == "" {
		return "", errModemGone
	}
	p, err := d.opts.Serial.OpenAT(tty, d.cfg.Modem.Baud)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errModemGone, err)
	}
	defer p.Close()
	resp, err := d.engine(p).Command(ctx, cmd, 10*time.Second)
	var sb strings.Builder
	for _, l := range resp.Lines {
		sb.WriteString(l + "\n")
	}
	if resp.Final != "" {
		sb.WriteString(resp.Final + "\n")
	}
	if err != nil && resp.Final == "" {
		return sb.String(), err
	}
	return sb.String(), nil
}

// modemSlot is the right to talk AT to the modem: the session (bring-up and
// dial), a recovery step and `failberry at` each hold it while they use the
// port. It is a channel of one slot rather than a mutex so a waiter can give
// up when its context ends, without polling. Make it with newModemSlot.
type modemSlot chan struct{}

func newModemSlot() modemSlot { return make(modemSlot, 1) }

// take waits for the slot until ctx ends.
func (m modemSlot) take(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryTake takes the slot if it is free.
func (m modemSlot) tryTake() bool {
	select {
	case m <- struct{}{}:
		return true
	default:
		return false
	}
}

// give returns the slot taken with take or tryTake.
func (m modemSlot) give() { <-m }

// ControlClient returns a client for the control socket.
func ControlClient(runDir string) *http.Client {
	sock := ControlSocket(runDir)
	return &http.Client{
		Timeout: 40 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		}},
	}
}
