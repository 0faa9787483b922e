package modem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"
)

// playOnPTY plays the modem side of a transcript on a pty master.
func playOnPTY(master *os.File, steps []step) <-chan error {
	errc := make(chan error, 1)
	go func() {
		var got []byte
		buf := make([]byte, 256)
		for _, s := range steps {
			switch s.kind {
			case stepSend:
				if _, err := master.Write(s.data); err != nil {
					errc <- err
					return
				}
			case stepDelay:
				time.Sleep(s.delay)
			case stepExpect:
				if err := master.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
					errc <- err
					return
				}
				for len(got) < len(s.data) {
					n, err := master.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil {
						errc <- fmt.Errorf("%s: read %q: %w", s.line, got, err)
						return
					}
				}
				if !bytes.Equal(got[:len(s.data)], s.data) {
					errc <- fmt.Errorf("%s: engine wrote %q, want %q", s.line, got, s.data)
					return
				}
				got = got[len(s.data):]
			}
		}
		errc <- nil
	}()
	return errc
}

func openPTY(t *testing.T) (master *os.File, slave string) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s.Name()
}

func waitScript(t *testing.T, errc <-chan error) {
	t.Helper()
	select {
	case err := <-errc:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Error("modem side of the transcript did not finish")
	}
}

// TestTTYLateReplyAndConnect runs the timeout path on a real tty: the read
// timeouts come from the runtime poller, not from a fake.
func TestTTYLateReplyAndConnect(t *testing.T) {
	master, slave := openPTY(t)
	tty, err := OpenDialFile(slave, 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	steps := append(parseTranscript(t, "late.txt"), parseTranscript(t, "connect.txt")...)
	errc := playOnPTY(master, steps)
	e := NewEngine(tty, EngineOptions{Timeout: time.Second})
	e.quiet = 800 * time.Millisecond
	runCalls(t, e, []call{
		{cmd: "AT+CGMI", timeout: 400 * time.Millisecond, want: Response{Lines: []string{"huawei"}, Final: "OK"}},
		{cmd: "AT+CSQ", timeout: 300 * time.Millisecond, wantErr: ErrTimeout},
		{cmd: "AT+CGMM", want: Response{Lines: []string{"E3531"}, Final: "OK"}},
	})
	text, err := Dial(context.Background(), e, "*99#", time.Second)
	if err != nil || text != "7200000" {
		t.Errorf("Dial = %q, %v", text, err)
	}
	waitScript(t, errc)
	// what follows CONNECT is still in the tty for pppd
	want := []byte("\n~\xff}#\xc0!}!}!} }4}\"}&} } } } }%}&")
	var got []byte
	buf := make([]byte, 64)
	tty.SetReadTimeout(time.Second)
	for len(got) < len(want) {
		n, err := tty.Read(buf)
		if n == 0 || err != nil {
			break
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("after CONNECT the tty holds %q, want %q", got, want)
	}
	if tty.File() == nil {
		t.Error("File() is nil")
	}
}

func TestTTYReadTimeout(t *testing.T) {
	_, slave := openPTY(t)
	tty, err := OpenDialFile(slave, 9600)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	tty.SetReadTimeout(20 * time.Millisecond)
	n, err := tty.Read(make([]byte, 8))
	if n != 0 || err != nil {
		t.Errorf("Read on a silent tty = %d, %v; want 0, nil", n, err)
	}
	if _, err := OpenDialFile(slave, 12345); err == nil {
		t.Error("odd baud accepted")
	}
	if _, err := OpenDialFile("/nonexistent/tty", 9600); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing tty: %v", err)
	}
}

// TestOpenSerialOnPTY runs the echo transcript through go.bug.st/serial,
// whose timed-out reads return (0, nil).
func TestOpenSerialOnPTY(t *testing.T) {
	master, slave := openPTY(t)
	p, err := OpenSerial(slave, 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	errc := playOnPTY(master, parseTranscript(t, "echo.txt"))
	e := NewEngine(p, EngineOptions{Timeout: 2 * time.Second})
	runCalls(t, e, []call{
		{cmd: "AT+CGMI", want: Response{Lines: []string{"huawei"}, Final: "OK"}},
		{cmd: "AT+CGSN", want: Response{Lines: []string{"356789012345678"}, Final: "OK"}},
		{cmd: `AT+CPIN="1234"`, want: Response{Command: `AT+CPIN="****"`, Final: "OK"}},
	})
	waitScript(t, errc)
}
