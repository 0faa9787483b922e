package sim

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestOverPTY runs the modem behind a real pty, the way `modemsim --dte pty`
// and failberry's serial code see it: the host opens the tty side.
func TestOverPTY(t *testing.T) {
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	defer tty.Close()
	defer ptm.Close()
	if err := makeRaw(tty); err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	m := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, ptm, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if _, err := tty.WriteString("ATE0\r"); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, tty, "OK\r\n"); got != "ATE0\r\r\nOK\r\n" {
		t.Errorf("ATE0 over pty = %q", got)
	}
	if _, err := tty.WriteString("AT+CGMM\r"); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, tty, "OK\r\n"); got != "\r\nMF180\r\n\r\nOK\r\n" {
		t.Errorf("AT+CGMM over pty = %q", got)
	}
}

func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 256)
	for !strings.HasSuffix(string(got), want) {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	return string(got)
}

// makeRaw puts a tty in raw mode (cfmakeraw), as a serial library would.
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}
