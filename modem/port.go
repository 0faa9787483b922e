package modem

import (
	"fmt"
	"io"
	"time"

	"go.bug.st/serial"
)

// Port is what the engine needs of a serial line. go.bug.st/serial's Port
// satisfies it; so does *TTY. A Read that times out may return (0, nil) as
// go.bug.st/serial does, or an error matching os.ErrDeadlineExceeded.
type Port interface {
	io.Reader
	io.Writer
	// SetReadTimeout bounds every following Read call; negative means no limit.
	SetReadTimeout(time.Duration) error
}

// OpenSerial opens the AT port with go.bug.st/serial at baud, 8N1, for the
// AT conversations that hand no line to pppd (the port search, a reset, a
// network-card stick's status, `failberry at`). The library sets TIOCEXCL
// and hides the fd; a PPP session uses OpenDialFile, whose descriptor pppd
// inherits.
func OpenSerial(path string, baud int) (serial.Port, error) {
	p, err := serial.Open(path, &serial.Mode{
		BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit,
	})
	if err != nil {
		return nil, fmt.Errorf("open serial %s: %w", path, err)
	}
	return p, nil
}
