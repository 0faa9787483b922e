package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// EngineOptions configure an Engine. The zero value is usable.
type EngineOptions struct {
	// Logger receives debug lines (commands redacted); nil discards.
	Logger *slog.Logger
	// OnURC is called, from inside Command or Drain, with every unsolicited
	// result code. It must not call back into the Engine.
	OnURC func(line string)
	// Timeout is the default per-command timeout (5 s when zero).
	Timeout time.Duration
	// Guard is the modem's escape guard time, as the last bring-up set it
	// (Info.EscapeGuard); zero is the modems' default, DefaultGuard.
	Guard time.Duration
}

// Response is the reply to one command.
type Response struct {
	Command     string   // command line as sent, PINs masked
	Lines       []string // information lines, echo and URCs removed
	Final       string   // final result code line
	ConnectText string   // "7200000" of "CONNECT 7200000"
}

// Find returns the value of the first line starting with prefix ("+CSQ:"),
// with the prefix and surrounding blanks removed.
func (r Response) Find(prefix string) (string, bool) {
	for _, l := range r.Lines {
		if len(l) >= len(prefix) && strings.EqualFold(l[:len(prefix)], prefix) {
			return strings.TrimSpace(l[len(prefix):]), true
		}
	}
	return "", false
}

// Engine sends AT commands one at a time and reads replies synchronously.
// It reads one byte per Read call with short read timeouts, so it stops
// exactly after the final result line: after CONNECT the next byte is pppd's.
// A CR ends a line, so the LF of "CONNECT\r\n" stays unread (PPP ignores
// bytes outside its frames; reading it could eat a PPP byte on a modem that
// sends no LF). Methods are safe for concurrent use but serialise.
//
// A reply that comes after its command timed out is drained before the next
// command is sent (the engine waits for 300 ms of silence first); one later
// still cannot be told from the next reply, as with any AT client.
type Engine struct {
	mu      sync.Mutex
	port    Port
	log     *slog.Logger
	onURC   func(string)
	timeout time.Duration
	split   lineSplitter
	v0      bool // ATV0 in effect: numeric result codes
	stale   bool // the last command timed out: its reply may still come

	slice time.Duration // longest single Read, to notice ctx cancellation
	quiet time.Duration // silence that ends the resync after a timeout
	guard time.Duration // +++ guard time
	// lastWrite is when a command was last written: the modem's guard
	// silence before "+++" counts from there.
	lastWrite time.Time

	watchers map[int]func(string)
	nextW    int
}

// NewEngine wraps p. The engine owns no goroutine; closing p is the caller's job.
func NewEngine(p Port, opt EngineOptions) *Engine {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := opt.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	guard := opt.Guard
	if guard <= 0 {
		guard = DefaultGuard
	}
	return &Engine{
		port: p, log: log, onURC: opt.OnURC, timeout: t,
		slice: 50 * time.Millisecond, quiet: 300 * time.Millisecond, guard: guard,
		watchers: map[int]func(string){},
	}
}

// watch adds an internal URC listener (used by Bringup) and returns its remover.
func (e *Engine) watch(f func(string)) (remove func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.nextW
	e.nextW++
	e.watchers[id] = f
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.watchers, id)
	}
}

func (e *Engine) deliver(line string) {
	e.log.Debug("urc", "line", line)
	for _, w := range e.watchers {
		w(line)
	}
	if e.onURC != nil {
		e.onURC(line)
	}
}

// errReadTimeout is readLine's "deadline reached", distinct from port errors.
var errReadTimeout = errors.New("read deadline")

// readLine reads bytes until a complete line, deadline, ctx end or a port
// error. stop, if set, is checked between reads and ends the wait early.
func (e *Engine) readLine(ctx context.Context, deadline time.Time, stop func() bool) (string, error) {
	var b [1]byte
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if stop != nil && stop() {
			return "", errReadTimeout
		}
		left := time.Until(deadline)
		if left <= 0 {
			return "", errReadTimeout
		}
		if err := e.port.SetReadTimeout(min(left, e.slice)); err != nil {
			return "", fmt.Errorf("set read timeout: %w", err)
		}
		n, err := e.port.Read(b[:])
		if n == 1 {
			if line, ok := e.split.push(b[0]); ok {
				return line, nil
			}
			continue
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if errors.Is(err, io.EOF) {
				return "", fmt.Errorf("port closed: %w", err)
			}
			return "", fmt.Errorf("read: %w", err)
		}
	}
}

// idle handles a line read while no command is outstanding.
func (e *Engine) idle(line string) {
	if classifyLine(line, nil, e.v0) == kindURC {
		e.deliver(line)
		return
	}
	e.log.Debug("discarding stray line", "line", line)
}

// drainQuiet reads until the line has been silent for quiet, or max passed.
func (e *Engine) drainQuiet(ctx context.Context, quiet, max time.Duration) error {
	end := time.Now().Add(max)
	for {
		d := time.Now().Add(quiet)
		if d.After(end) {
			d = end
		}
		line, err := e.readLine(ctx, d, nil)
		if errors.Is(err, errReadTimeout) {
			return nil
		}
		if err != nil {
			return err
		}
		e.idle(line)
	}
}

// Drain reads for d, delivering URCs to OnURC and discarding anything else.
// Use it between commands to watch the modem without sending anything.
func (e *Engine) Drain(ctx context.Context, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.drainUntil(ctx, d, nil)
}

// drainUntil is Drain that also ends when stop reports true.
func (e *Engine) drainUntil(ctx context.Context, d time.Duration, stop func() bool) error {
	deadline := time.Now().Add(d)
	for {
		line, err := e.readLine(ctx, deadline, stop)
		if err != nil {
			if errors.Is(err, errReadTimeout) {
				return nil
			}
			return err
		}
		e.idle(line)
	}
}

// Command sends cmd (without the trailing CR) and waits up to timeout (the
// engine default when zero, and never past ctx's deadline) for its final
// result code. A failure result comes back as a *CommandError wrapping
// ErrError, ErrNoCarrier, ..., a *CMEError or a *CMSError, together with the
// Response read so far; no final result gives ErrTimeout. A reply arriving
// after a timeout is drained before the next command, not taken for its reply.
func (e *Engine) Command(ctx context.Context, cmd string, timeout time.Duration) (Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.command(ctx, cmd, timeout)
}

func (e *Engine) command(ctx context.Context, cmd string, timeout time.Duration) (Response, error) {
	if timeout <= 0 {
		timeout = e.timeout
	}
	red := redact(cmd)
	resp := Response{Command: red}
	if strings.ContainsAny(cmd, "\r\n") {
		return resp, fmt.Errorf("%s: command contains a line break", red)
	}
	if err := e.resync(ctx, timeout); err != nil {
		return resp, fmt.Errorf("%s: %w", red, err)
	}
	e.log.Debug("at send", "cmd", red)
	e.lastWrite = time.Now()
	if _, err := e.port.Write([]byte(cmd + "\r")); err != nil {
		return resp, fmt.Errorf("%s: write: %w", red, err)
	}
	change, touches := verboseAfter(cmd)
	p := &pending{cmd: cmd, name: commandName(cmd), numeric: touches}
	deadline := time.Now().Add(timeout)
	for {
		line, err := e.readLine(ctx, deadline, nil)
		if errors.Is(err, errReadTimeout) {
			e.stale = true
			return resp, &CommandError{Command: red, Err: ErrTimeout}
		}
		if err != nil {
			e.stale = true
			return resp, fmt.Errorf("%s: %w", red, err)
		}
		switch classifyLine(line, p, e.v0) {
		case kindEcho:
			p.echoSeen = true
		case kindURC:
			e.deliver(line)
		case kindInfo:
			p.nLines++
			resp.Lines = append(resp.Lines, line)
		case kindFinal:
			return e.finish(resp, line, change, touches)
		}
	}
}

// resync drops what arrived since the last command; after a timeout it waits
// for silence, so the late reply is not taken for this command's.
func (e *Engine) resync(ctx context.Context, timeout time.Duration) error {
	quiet := time.Millisecond
	if e.stale {
		quiet = e.quiet
	}
	if err := e.drainQuiet(ctx, quiet, min(timeout, 2*time.Second)); err != nil {
		return err
	}
	if len(e.split.buf) > 0 {
		e.log.Debug("discarding partial line", "bytes", len(e.split.buf))
	}
	e.split.reset()
	e.stale = false
	return nil
}

// finish records the final result and maps it to an error.
func (e *Engine) finish(resp Response, final string, change int, touches bool) (Response, error) {
	resp.Final = final
	up := strings.ToUpper(final)
	if strings.HasPrefix(up, "CONNECT") {
		resp.ConnectText = strings.TrimSpace(final[len("CONNECT"):])
	}
	err := finalError(final)
	if err == nil && touches {
		e.v0 = change < 0
	}
	e.log.Debug("at final", "cmd", resp.Command, "final", final)
	if err != nil {
		return resp, &CommandError{Command: resp.Command, Final: final, Err: err}
	}
	return resp, nil
}

// drainStop is Drain that ends early when stop reports true, for Bringup's
// registration wait; it returns ctx's error.
func (e *Engine) drainStop(ctx context.Context, d time.Duration, stop func() bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.drainUntil(ctx, d, stop)
}
