package modem

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bytesPort serves fixed modem output, then io.EOF, so a fuzz run never waits.
type bytesPort struct{ r *bytes.Reader }

func (p *bytesPort) Read(b []byte) (int, error)         { return p.r.Read(b) }
func (p *bytesPort) Write(b []byte) (int, error)        { return len(b), nil }
func (p *bytesPort) SetReadTimeout(time.Duration) error { return nil }
func (p *bytesPort) Close() error                       { return nil }

var _ io.Reader = (*bytesPort)(nil)

// FuzzParse feeds arbitrary modem output to the engine and every parser:
// nothing may panic or hang, and what the engine returns keeps its invariants.
// Run: go test -run=^$ -fuzz=FuzzParse -fuzztime=10s ./modem/
func FuzzParse(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "transcripts", "*.txt"))
	for _, n := range names {
		var modem []byte
		for _, s := range parseTranscript(f, filepath.Base(n)) {
			if s.kind == stepSend {
				modem = append(modem, s.data...)
			}
		}
		f.Add(modem, "AT+CREG?")
		f.Add(modem, "ATV0")
	}
	f.Fuzz(func(t *testing.T, data []byte, cmd string) {
		if strings.ContainsAny(cmd, "\r\n") {
			cmd = "AT"
		}
		urcs := 0
		e := NewEngine(&bytesPort{bytes.NewReader(data)}, EngineOptions{OnURC: func(string) { urcs++ }})
		resp, err := e.Command(context.Background(), cmd, time.Second)
		if err == nil && !finalCode(resp.Final, true) {
			t.Errorf("success with final %q", resp.Final)
		}
		for _, l := range resp.Lines {
			if len(l) > maxLine || l == "" || strings.ContainsAny(l, "\x00\r\n") {
				t.Errorf("bad line %q", l)
			}
		}
		e.Drain(context.Background(), 10*time.Millisecond)
		for _, l := range strings.FieldsFunc(string(data), func(r rune) bool { return r == '\r' || r == '\n' }) {
			if s, err := ParseCSQ(l); err == nil && s.Known && (s.DBM < -113 || s.DBM > -51) {
				t.Errorf("ParseCSQ(%q) = %+v", l, s)
			}
			ParseCPIN(l)
			if r, err := ParseCREG(l); err == nil {
				_ = r.Stat.String() + r.AcT.String()
			}
			if op, err := ParseCOPS(l); err == nil {
				_ = op.AcT.String()
			}
			classifyLine(l, &pending{cmd: cmd, name: commandName(cmd)}, false)
			_, _ = verboseAfter(l)
			redact(l)
		}
	})
}
