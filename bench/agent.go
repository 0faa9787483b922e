package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// request and reply mirror bench/agent's wire format.
type request struct {
	ID      int    `json:"id"`
	Sh      string `json:"sh,omitempty"`
	Bg      bool   `json:"bg,omitempty"`
	Log     string `json:"log,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	TTY     string `json:"tty,omitempty"`
	Send    string `json:"send,omitempty"`
}

type reply struct {
	ID   int    `json:"id"`
	Exit int    `json:"exit"`
	Out  string `json:"out,omitempty"`
	Err  string `json:"err,omitempty"`
	Pid  int    `json:"pid,omitempty"`
}

// agentConn multiplexes requests to the guest agent over its virtio port.
type agentConn struct {
	c       net.Conn
	mu      sync.Mutex
	next    int
	waiting map[int]chan reply
	ready   chan struct{}
}

func newAgentConn(c net.Conn) *agentConn {
	a := &agentConn{c: c, waiting: map[int]chan reply{}, ready: make(chan struct{})}
	go a.read()
	return a
}

func (a *agentConn) read() {
	sc := bufio.NewScanner(a.c)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	var once sync.Once
	for sc.Scan() {
		var r reply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // boot noise before the agent started
		}
		if r.ID == 0 {
			once.Do(func() { close(a.ready) })
			continue
		}
		a.mu.Lock()
		ch := a.waiting[r.ID]
		delete(a.waiting, r.ID)
		a.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
	a.mu.Lock()
	for id, ch := range a.waiting {
		close(ch)
		delete(a.waiting, id)
	}
	a.mu.Unlock()
}

func (a *agentConn) waitReady(ctx context.Context) error {
	select {
	case <-a.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", errNotReady, ctx.Err())
	}
}

func (a *agentConn) do(ctx context.Context, req request) (reply, error) {
	ch := make(chan reply, 1)
	a.mu.Lock()
	a.next++
	req.ID = a.next
	a.waiting[req.ID] = ch
	b, _ := json.Marshal(req)
	_, err := a.c.Write(append(b, '\n'))
	a.mu.Unlock()
	if err != nil {
		return reply{}, fmt.Errorf("agent: %w", err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return reply{}, fmt.Errorf("agent: connection closed")
		}
		return r, nil
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

func (a *agentConn) Close() { a.c.Close() }

// ExitError is a guest command that failed.
type ExitError struct {
	Script string
	Code   int
	Out    string
	Err    string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("guest: %q: exit %d (%s)\n%s", e.Script, e.Code, e.Err, strings.TrimRight(e.Out, "\n"))
}

// Run runs a shell script in the guest and returns its combined output.
func (vm *VM) Run(ctx context.Context, timeout time.Duration, script string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	r, err := vm.agent.do(ctx, request{Sh: script, Timeout: timeout.String()})
	if err != nil {
		return "", fmt.Errorf("guest: %q: %w", script, err)
	}
	if r.Err != "" {
		return r.Out, &ExitError{Script: script, Code: r.Exit, Out: r.Out, Err: r.Err}
	}
	return r.Out, nil
}

// Background starts a shell script in the guest with its output appended to
// /mnt/<logName> (the host's Work/<logName>), and returns its pid.
func (vm *VM) Background(ctx context.Context, logName, script string) (int, error) {
	r, err := vm.agent.do(ctx, request{Sh: script, Bg: true, Log: "/mnt/" + logName})
	if err != nil {
		return 0, err
	}
	if r.Err != "" {
		return 0, fmt.Errorf("guest background %q: %s", script, r.Err)
	}
	return r.Pid, nil
}

// AT sends raw bytes to a guest tty and returns what came back until a final
// result code or the timeout.
func (vm *VM) AT(ctx context.Context, tty, send string, timeout time.Duration) (string, error) {
	r, err := vm.agent.do(ctx, request{TTY: tty, Send: send, Timeout: timeout.String()})
	if err != nil {
		return "", err
	}
	if r.Err != "" {
		return r.Out, fmt.Errorf("guest AT on %s: %s", tty, r.Err)
	}
	return r.Out, nil
}
