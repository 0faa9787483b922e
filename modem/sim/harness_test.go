package sim

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor bounds every wait in the tests; it is a failure deadline, not a
// speed target, so it is generous for a busy machine.
const waitFor = 10 * time.Second

// peer is the far end of one of the modem's connections: it collects what
// the modem writes so tests can wait for it.
type peer struct {
	t      *testing.T
	conn   net.Conn
	mu     sync.Mutex
	buf    []byte
	cursor int
}

func newPeer(t *testing.T, c net.Conn) *peer {
	p := &peer{t: t, conn: c}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := c.Read(b)
			p.mu.Lock()
			p.buf = append(p.buf, b[:n]...)
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *peer) send(s string) {
	p.t.Helper()
	if err := p.conn.SetWriteDeadline(time.Now().Add(waitFor)); err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.Write([]byte(s)); err != nil {
		p.t.Fatalf("send %q: %v", s, err)
	}
}

// expect waits until want appears after the cursor, moves the cursor past
// it and returns what came before it.
func (p *peer) expect(want string) string {
	p.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		p.mu.Lock()
		rest := string(p.buf[p.cursor:])
		if i := strings.Index(rest, want); i >= 0 {
			p.cursor += i + len(want)
			p.mu.Unlock()
			return rest[:i]
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			p.t.Fatalf("waited %v for %q; got %q", waitFor, want, rest)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rest returns everything after the cursor and moves the cursor to the end.
func (p *peer) rest() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := string(p.buf[p.cursor:])
	p.cursor = len(p.buf)
	return s
}

// cmd sends an AT command line and waits for the final result, returning
// the whole answer (echo included).
func (p *peer) cmd(line, final string) string {
	p.t.Helper()
	p.send(line + "\r")
	before := p.expect(final)
	return before + final
}

type bench struct {
	m            *Modem
	dte, carrier *peer
}

// fastConfig is a modem without delays, for tests.
func fastConfig() Config {
	return Config{BootDelay: -1, RegistrationDelay: -1, ConnectDelay: -1,
		GuardTime: 100 * time.Millisecond, HangupSilence: 100 * time.Millisecond}
}

func start(t *testing.T, cfg Config) *bench {
	t.Helper()
	return startModem(t, New(cfg))
}

// startModem runs m over net.Pipe connections until the test ends.
func startModem(t *testing.T, m *Modem) *bench {
	t.Helper()
	dteHost, dteModem := net.Pipe()
	carNet, carModem := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, dteModem, carModem) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		for _, c := range []net.Conn{dteHost, dteModem, carNet, carModem} {
			c.Close()
		}
		if t.Failed() {
			t.Logf("transcript:\n%s", m.Transcript())
		}
	})
	return &bench{m: m, dte: newPeer(t, dteHost), carrier: newPeer(t, carNet)}
}

// quiet turns echo off so answers can be compared exactly.
func (b *bench) quiet() {
	b.dte.cmd("ATE0", "\r\nOK\r\n")
}

// waitState polls the snapshot until ok holds.
func waitState(t *testing.T, m *Modem, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s := m.Snapshot()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; state %+v", waitFor, what, s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
