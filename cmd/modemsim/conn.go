package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/failberry/failberry/modem/sim"
)

// serveDTE runs the modem on the DTE side until ctx ends, reconnecting to
// a socket when qemu restarts or closes it.
func serveDTE(ctx context.Context, o options, m *sim.Modem, carrier *redialer, log *slog.Logger) error {
	var car io.ReadWriter
	if carrier != nil {
		car = carrier
	}
	if o.dte == "pty" {
		ptm, tty, err := pty.Open()
		if err != nil {
			return fmt.Errorf("opening pty: %w", err)
		}
		defer ptm.Close()
		// Keep the tty side open so the pty survives clients closing it.
		defer tty.Close()
		if err := makeRaw(tty); err != nil {
			return fmt.Errorf("raw mode on %s: %w", tty.Name(), err)
		}
		fmt.Println(tty.Name())
		log.Info("serving on pty", "path", tty.Name())
		return m.Run(ctx, ptm, car)
	}
	if !isSocket(o.dte) && strings.HasPrefix(o.dte, "/dev/") {
		f, err := os.OpenFile(o.dte, os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			return fmt.Errorf("opening dte: %w", err)
		}
		defer f.Close()
		if err := makeRaw(f); err != nil {
			return fmt.Errorf("raw mode on %s: %w", o.dte, err)
		}
		return m.Run(ctx, f, car)
	}
	for {
		c, err := dialRetry(ctx, o.dte, o.connectTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dte: %w", err)
		}
		log.Info("dte connected", "socket", o.dte)
		err = m.Run(ctx, c, car)
		c.Close()
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("dte connection ended; reconnecting", "err", err)
	}
}

func isSocket(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&os.ModeSocket != 0
}

// dialRetry connects to a unix socket, waiting up to timeout for it to appear.
func dialRetry(ctx context.Context, path string, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("connecting to %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// redialer is the carrier connection: it reconnects when the socket closes,
// so a restarted carrier side just looks like a dropped call.
type redialer struct {
	ctx     context.Context
	path    string
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

func newRedialer(ctx context.Context, path string, timeout time.Duration, log *slog.Logger) *redialer {
	return &redialer{ctx: ctx, path: path, timeout: timeout, log: log}
}

// get returns the current connection, dialling if there is none.
func (r *redialer) get() (net.Conn, error) {
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := dialRetry(r.ctx, r.path, r.timeout)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	r.log.Info("carrier connected", "socket", r.path)
	r.conn = c
	return c, nil
}

func (r *redialer) drop(c net.Conn, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == c && !r.closed {
		r.log.Warn("carrier connection lost; reconnecting", "err", err)
		r.conn = nil
		c.Close()
	}
}

// Read blocks until data arrives, reconnecting as needed; it fails only
// when the context ends, the redialer is closed or reconnecting times out.
func (r *redialer) Read(p []byte) (int, error) {
	for {
		c, err := r.get()
		if err != nil {
			return 0, err
		}
		n, err := c.Read(p)
		if n > 0 || err == nil {
			return n, nil
		}
		r.drop(c, err)
		if r.ctx.Err() != nil {
			return 0, r.ctx.Err()
		}
	}
}

// Write sends to the current connection; with none, the bytes are lost, as
// on a network that is down.
func (r *redialer) Write(p []byte) (int, error) {
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	if c == nil {
		return len(p), nil
	}
	if _, err := c.Write(p); err != nil && !errors.Is(err, net.ErrClosed) {
		r.drop(c, err)
	}
	return len(p), nil
}

// Close ends the connection and any Read waiting on it.
func (r *redialer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.conn != nil {
		return r.conn.Close()
	}
	return nil
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
