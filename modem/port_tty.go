package modem

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// TTY is the modem line opened as a plain file for the final dial: after
// CONNECT its File is handed to pppd as stdin/stdout, exactly as wvdial does.
// It implements Port through the runtime poller (the file is opened
// O_NONBLOCK), so the engine can still time out its reads.
type TTY struct {
	f       *os.File
	timeout time.Duration
}

// bauds maps the usual modem speeds to termios constants.
var bauds = map[int]uint32{
	9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400, 460800: unix.B460800,
	921600: unix.B921600,
}

// OpenDialFile opens path O_RDWR|O_NOCTTY|O_NONBLOCK, puts the line in raw 8N1
// mode at baud with CLOCAL (so no read waits for carrier before pppd takes
// over) and returns it. The caller closes it once pppd has its own copy. It
// is not exclusive (TIOCEXCL): pppd opens the tty again by the name of its
// stdin, which TIOCEXCL refuses without CAP_SYS_ADMIN, as under the unit.
func OpenDialFile(path string, baud int) (*TTY, error) {
	speed, ok := bauds[baud]
	if !ok {
		return nil, fmt.Errorf("open dial tty %s: unsupported baud rate %d", path, baud)
	}
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open dial tty: %w", err)
	}
	if err := makeRaw(f, speed); err != nil {
		f.Close()
		return nil, fmt.Errorf("open dial tty %s: %w", path, err)
	}
	return &TTY{f: f, timeout: -1}, nil
}

// makeRaw applies cfmakeraw, CS8, CREAD, CLOCAL and the speed, through
// SyscallConn so the file stays in non-blocking mode (File.Fd would not).
func makeRaw(f *os.File, speed uint32) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var terr error
	cerr := rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			terr = fmt.Errorf("get termios: %w", err)
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR |
			unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CBAUD
		t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
		t.Ispeed, t.Ospeed = speed, speed
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		if err := unix.IoctlSetTermios(int(fd), unix.TCSETS, t); err != nil {
			terr = fmt.Errorf("set termios: %w", err)
		}
	})
	return errors.Join(cerr, terr)
}

// File returns the underlying file, to become pppd's stdin and stdout.
func (t *TTY) File() *os.File { return t.f }

// SetReadTimeout bounds each following Read; negative means block.
func (t *TTY) SetReadTimeout(d time.Duration) error {
	t.timeout = d
	return nil
}

// Read reads like go.bug.st/serial: (0, nil) when the timeout passes first.
func (t *TTY) Read(p []byte) (int, error) {
	var deadline time.Time
	if t.timeout >= 0 {
		deadline = time.Now().Add(t.timeout)
	}
	if err := t.f.SetReadDeadline(deadline); err != nil {
		return 0, fmt.Errorf("tty read deadline: %w", err)
	}
	n, err := t.f.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

// Write writes to the line.
func (t *TTY) Write(p []byte) (int, error) { return t.f.Write(p) }

// Close closes the file.
func (t *TTY) Close() error { return t.f.Close() }
