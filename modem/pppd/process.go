package pppd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LogLines is how many of pppd's last log lines a Process keeps for reports.
const LogLines = 50

// ctxGrace is how long a cancelled context leaves pppd to hang up cleanly.
const ctxGrace = 5 * time.Second

// Process is a running pppd. Its methods are safe for concurrent use.
type Process struct {
	cmd    *exec.Cmd
	logger *slog.Logger
	done   chan struct{}
	err    error // set before done closes

	mu  sync.Mutex
	log []string // ring of the last LogLines lines

	holdMu sync.Mutex
	hold   *os.File // a held pppd's end of its last options (Start); nil once released
}

// The hold (Start): pppd reads its last options from a pipe whose other
// end the daemon keeps (`file /proc/self/fd/3`: /dev/fd is not on every
// system), so it loads and parses its command line and then blocks, before
// it touches the tty, until Release writes releaseOptions and closes the
// pipe. The connect script /bin/false stands until then: a pppd whose daemon
// died before releasing it (which also ends the pipe) gives up ("Connect
// script failed", exit 8) instead of running PPP on a line that nobody
// supervises or firewalls.
var holdArgs = []string{"connect", "/bin/false", "file", "/proc/self/fd/3"}

const releaseOptions = "connect \"\"\n"

// Start runs pppd with o on tty (pppd's stdin and stdout), in its own process
// group and without the systemd variables (NOTIFY_SOCKET, WATCHDOG_*,
// LISTEN_*) meant for the daemon, held: it loads (its dynamic libraries, its
// options files and command line) while the caller is still bringing the
// modem up and dialling, and does not touch the tty until Release. pppd's
// own start is then off the dial's path. Stop ends a held pppd without it
// touching the tty. Each line pppd logs goes to logger at debug level and to
// a ring of the last LogLines lines. When ctx ends, pppd is stopped as by
// Stop. A nil logger discards.
func Start(ctx context.Context, o Options, tty *os.File, logger *slog.Logger) (*Process, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if tty == nil {
		return nil, errors.New("start pppd: no tty")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start pppd: log pipe: %w", err)
	}
	holdR, holdW, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start pppd: hold pipe: %w", err)
	}
	cmd := exec.Command(o.path(), append(Args(o), holdArgs...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, w
	cmd.ExtraFiles = []*os.File{holdR} // fd 3
	cmd.Env = childEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	holdR.Close()
	if err != nil {
		r.Close()
		holdW.Close()
		return nil, fmt.Errorf("start pppd %s: %w", strings.Join(cmd.Args, " "), err)
	}
	p := &Process{cmd: cmd, logger: logger.With("pid", cmd.Process.Pid), done: make(chan struct{}), hold: holdW}
	// Logged as started once released: a held pppd that a failed bring-up
	// stops was never on the line.
	p.logger.Debug("pppd held", "args", cmd.Args[1:])
	logged := make(chan struct{})
	go p.readLog(r, logged)
	go p.wait(r, logged)
	go func() {
		select {
		case <-ctx.Done():
			p.Stop(ctxGrace)
		case <-p.done:
		}
	}()
	return p, nil
}

// childEnv drops what systemd addressed to the daemon: pppd must not notify
// or answer the watchdog in the daemon's name, nor take its sockets.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "NOTIFY_SOCKET", k == "WATCHDOG_PID", k == "WATCHDOG_USEC", strings.HasPrefix(k, "LISTEN_"):
			continue
		}
		out = append(out, kv)
	}
	return out
}

// readLog copies pppd's log lines into the logger and the ring.
func (p *Process) readLog(r io.Reader, logged chan<- struct{}) {
	defer close(logged)
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			p.addLine(line)
		}
		if err != nil {
			return
		}
	}
}

func (p *Process) addLine(line string) {
	p.logger.Debug("pppd", "log", line)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.log) == LogLines {
		copy(p.log, p.log[1:])
		p.log = p.log[:LogLines-1]
	}
	p.log = append(p.log, line)
}

// Log returns pppd's last log lines, oldest first.
func (p *Process) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// wait reaps pppd, kills what is left of its process group (connect or ip-up
// scripts), collects the log and publishes the result.
func (p *Process) wait(r *os.File, logged <-chan struct{}) {
	werr := p.cmd.Wait()
	// pppd is reaped but its group id stays reserved while members live.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-logged:
	case <-time.After(time.Second): // a leftover holds the pipe: stop reading
	}
	r.Close()
	<-logged
	p.err = p.exitError(werr)
	if p.closeHold() {
		p.logger.Debug("pppd exited while held", "err", p.err)
	} else {
		p.logger.Info("pppd exited", "err", p.err)
	}
	close(p.done)
}

// Release lets the held pppd go on to the tty: it writes the options that
// lift the hold and ends the pipe. Releasing again, or after pppd's end,
// does nothing.
func (p *Process) Release() error {
	p.holdMu.Lock()
	defer p.holdMu.Unlock()
	if p.hold == nil {
		return nil
	}
	_, werr := p.hold.WriteString(releaseOptions)
	cerr := p.hold.Close()
	p.hold = nil
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("release pppd %d: %w", p.cmd.Process.Pid, err)
	}
	p.logger.Info("pppd started", "args", p.cmd.Args[1:], "released", true)
	return nil
}

// closeHold ends a hold that was never released, once pppd is gone (its
// end of the pipe, without the release options), and reports whether there
// was one.
func (p *Process) closeHold() bool {
	p.holdMu.Lock()
	defer p.holdMu.Unlock()
	if p.hold == nil {
		return false
	}
	p.hold.Close()
	p.hold = nil
	return true
}

func (p *Process) exitError(werr error) error {
	var ee *exec.ExitError
	if !errors.As(werr, &ee) {
		if werr != nil {
			return fmt.Errorf("wait for pppd: %w", werr)
		}
		return nil
	}
	e := &ExitError{Code: ee.ExitCode(), Log: p.Log()}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal().String()
	}
	return e
}

// Done is closed once pppd has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait blocks until pppd exits. It returns nil for exit status 0, an
// *ExitError otherwise (ExitUserRequest after Stop).
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Pid returns pppd's process id (also its process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop asks pppd to hang up (SIGTERM to its process group), waits up to
// grace, then kills the group. It returns once pppd is reaped, so nothing is
// left behind; calling it again, or after pppd exited, does nothing.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop pppd %d: %w", pid, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	p.logger.Warn("pppd ignored SIGTERM, killing it", "grace", grace)
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill pppd %d: %w", pid, err)
	}
	<-p.done
	return nil
}
