package pppd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ttyPair is a pty: the tty pppd gets, and what reaches the modem's side.
func ttyPair(t *testing.T) (tty *os.File, modem <-chan string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	c := make(chan string, 16)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := ptmx.Read(buf)
			if err != nil {
				return
			}
			c <- string(buf[:n])
		}
	}()
	return tty, c
}

func quiet(t *testing.T, modem <-chan string, d time.Duration, while string) {
	t.Helper()
	select {
	case b := <-modem:
		t.Fatalf("pppd wrote %q to the tty %s", b, while)
	case <-time.After(d):
	}
}

// A held pppd loads and then waits for Release before the tty sees a byte;
// Release gives it the options that lift the hold's failing connect script.
func TestHeldUntilRelease(t *testing.T) {
	tty, modem := ttyPair(t)
	p, err := Start(context.Background(), fakeOptions(t, "hold"), tty, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "loaded")
	quiet(t, modem, 300*time.Millisecond, "while held")
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-modem:
		if !strings.Contains(b, "on the tty") {
			t.Errorf("tty got %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("released pppd never reached the tty")
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("Wait = %v; log %q", err, p.Log())
	}
	log := p.Log()
	if !slices.Contains(log, fmt.Sprintf("options: %q", releaseOptions)) {
		t.Errorf("pppd read other options than %q: %q", releaseOptions, log)
	}
	if want := "args: " + strings.Join(append(Args(fakeOptions(t, "hold")), holdArgs...), " "); !slices.Contains(log, want) {
		t.Errorf("held pppd's args: want %q in %q", want, log)
	}
	if err := p.Release(); err != nil {
		t.Errorf("second Release = %v", err)
	}
}

// Stopping a held pppd ends it where it waits: the tty never sees a byte.
func TestHeldStopLeavesTTY(t *testing.T) {
	tty, modem := ttyPair(t)
	p, err := Start(context.Background(), fakeOptions(t, "hold"), tty, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "loaded")
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	var ee *ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Signal != "terminated" {
		t.Fatalf("Wait = %v, want the end by SIGTERM", err)
	}
	quiet(t, modem, 300*time.Millisecond, "after a stop while held")
	if err := p.Release(); err != nil {
		t.Errorf("Release after the end = %v", err)
	}
}
