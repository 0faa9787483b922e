package modem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Transcript format (testdata/transcripts/*.txt), one step per line:
//
//	# comment
//	> AT+CPIN?        the engine must write "AT+CPIN?\r"
//	>> +++            the engine must write these raw bytes (escapes below)
//	< +CPIN: SIM PIN  the modem sends "\r\n+CPIN: SIM PIN\r\n"
//	<< AT+CPIN?\r     the modem sends raw bytes
//	~ 300ms           the modem pauses before its next bytes
//	@include f.txt    steps of another transcript
//
// Escapes in raw bytes: \r \n \t \\ \0 \xHH.

type stepKind int

const (
	stepExpect stepKind = iota
	stepSend
	stepDelay
)

type step struct {
	kind  stepKind
	data  []byte
	delay time.Duration
	line  string // for messages
}

// unescape decodes the raw byte escapes.
func unescape(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			out = append(out, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("short \\x escape")
			}
			b, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, err
			}
			out = append(out, byte(b))
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return out, nil
}

// parseTranscript reads a transcript; it is a test helper, so garbage fails the test.
func parseTranscript(t testing.TB, name string) []step {
	t.Helper()
	path := filepath.Join("testdata", "transcripts", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var steps []step
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := strings.TrimRight(raw, " \t")
		where := fmt.Sprintf("%s:%d", name, n)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "@include "):
			steps = append(steps, parseTranscript(t, strings.TrimSpace(line[9:]))...)
		case strings.HasPrefix(line, ">> "), strings.HasPrefix(line, "<< "):
			b, err := unescape(line[3:])
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			k := stepExpect
			if line[0] == '<' {
				k = stepSend
			}
			steps = append(steps, step{kind: k, data: b, line: where})
		case strings.HasPrefix(line, "> "):
			steps = append(steps, step{kind: stepExpect, data: []byte(raw[2:] + "\r"), line: where})
		case strings.HasPrefix(line, "< "):
			steps = append(steps, step{kind: stepSend, data: []byte("\r\n" + raw[2:] + "\r\n"), line: where})
		case strings.HasPrefix(line, "~ "):
			d, err := time.ParseDuration(strings.TrimSpace(line[2:]))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			steps = append(steps, step{kind: stepDelay, delay: d, line: where})
		default:
			t.Fatalf("%s: cannot parse %q", where, line)
		}
	}
	return steps
}

// scriptPort is a Port that plays the modem side of a transcript. Time runs
// for real: delays start when the previous step completes.
type scriptPort struct {
	mu        sync.Mutex
	steps     []step
	i         int
	stepStart time.Time
	avail     []byte
	written   []byte
	timeout   time.Duration
	failure   string
}

func newScriptPort(t testing.TB, name string) *scriptPort {
	return &scriptPort{steps: parseTranscript(t, name), stepStart: time.Now(), timeout: -1}
}

func (p *scriptPort) next() { p.i++; p.stepStart = time.Now() }

func (p *scriptPort) advance() {
	for p.i < len(p.steps) && p.failure == "" {
		s := p.steps[p.i]
		switch s.kind {
		case stepSend:
			p.avail = append(p.avail, s.data...)
		case stepDelay:
			if time.Since(p.stepStart) < s.delay {
				return
			}
		case stepExpect:
			n := min(len(p.written), len(s.data))
			if !bytes.Equal(p.written[:n], s.data[:n]) {
				p.failure = fmt.Sprintf("%s: engine wrote %q, want %q", s.line, p.written, s.data)
				return
			}
			if n < len(s.data) {
				return
			}
			p.written = p.written[n:]
		}
		p.next()
	}
}

func (p *scriptPort) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.written = append(p.written, b...)
	p.advance()
	if p.i == len(p.steps) && len(p.written) > 0 && p.failure == "" {
		p.failure = fmt.Sprintf("engine wrote %q after the transcript ended", p.written)
	}
	return len(b), nil
}

func (p *scriptPort) SetReadTimeout(d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timeout = d
	return nil
}

func (p *scriptPort) Read(b []byte) (int, error) {
	p.mu.Lock()
	deadline := time.Now().Add(p.timeout)
	block := p.timeout < 0
	p.mu.Unlock()
	for {
		p.mu.Lock()
		p.advance()
		if len(p.avail) > 0 {
			n := copy(b, p.avail)
			p.avail = p.avail[n:]
			p.mu.Unlock()
			return n, nil
		}
		p.mu.Unlock()
		if !block && !time.Now().Before(deadline) {
			return 0, nil
		}
		time.Sleep(time.Millisecond)
	}
}

// unread returns the modem bytes the engine has not read.
func (p *scriptPort) unread() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance()
	return append([]byte(nil), p.avail...)
}

// check fails the test unless the whole transcript was played and matched.
func (p *scriptPort) check(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance()
	if p.failure != "" {
		t.Errorf("transcript: %s", p.failure)
	}
	if p.i < len(p.steps) {
		t.Errorf("transcript stopped at %s (step %d of %d)", p.steps[p.i].line, p.i+1, len(p.steps))
	}
	if len(p.written) > 0 {
		t.Errorf("unexpected bytes written: %q", p.written)
	}
}
