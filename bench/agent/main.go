// Command bench-agent runs inside the bench VM and executes the host test's
// requests, one JSON object per line on a virtio serial port.
//
// It is deliberately dumb: it runs shell scripts (in the foreground with a
// timeout, or in the background with their output in a file) and exchanges AT
// commands with a tty. Scenario logic stays in the Go tests on the host, where a
// failure can print everything it knows.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Request is one command from the host.
type Request struct {
	ID      int    `json:"id"`
	Sh      string `json:"sh,omitempty"`      // shell script to run
	Bg      bool   `json:"bg,omitempty"`      // run in the background, output to Log
	Log     string `json:"log,omitempty"`     // output file for background scripts
	Timeout string `json:"timeout,omitempty"` // for foreground scripts and AT exchanges
	TTY     string `json:"tty,omitempty"`     // AT exchange: the tty
	Send    string `json:"send,omitempty"`    // AT exchange: bytes to send
}

// Reply answers one Request.
type Reply struct {
	ID   int    `json:"id"`
	Exit int    `json:"exit"`
	Out  string `json:"out,omitempty"`
	Err  string `json:"err,omitempty"`
	Pid  int    `json:"pid,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: bench-agent /dev/vportNpM")
	}
	port, err := os.OpenFile(os.Args[1], os.O_RDWR, 0)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	enc := json.NewEncoder(port)
	send := func(r Reply) {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(r); err != nil {
			log.Printf("reply %d: %v", r.ID, err)
		}
	}
	send(Reply{ID: 0, Out: "ready"})
	sc := bufio.NewScanner(port)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			log.Printf("bad request: %v", err)
			continue
		}
		go func() { send(handle(req)) }()
	}
	log.Fatalf("port closed: %v", sc.Err())
}

func handle(req Request) Reply {
	timeout := 60 * time.Second
	if req.Timeout != "" {
		if d, err := time.ParseDuration(req.Timeout); err == nil {
			timeout = d
		}
	}
	switch {
	case req.TTY != "":
		out, err := exchange(req.TTY, req.Send, timeout)
		return reply(req.ID, out, err)
	case req.Bg:
		return background(req)
	default:
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", req.Sh)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 2 * time.Second
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		return reply(req.ID, string(out), err)
	}
}

func reply(id int, out string, err error) Reply {
	r := Reply{ID: id, Out: out}
	if err != nil {
		r.Err = err.Error()
		r.Exit = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			r.Exit = ee.ExitCode()
		}
	}
	return r
}

func background(req Request) Reply {
	logf := req.Log
	if logf == "" {
		logf = "/dev/null"
	}
	f, err := os.OpenFile(logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return reply(req.ID, "", err)
	}
	defer f.Close()
	cmd := exec.Command("/bin/sh", "-c", req.Sh)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return reply(req.ID, "", err)
	}
	go cmd.Wait() //nolint:errcheck // reaped; the log file holds its story
	return Reply{ID: req.ID, Pid: cmd.Process.Pid}
}

// exchange writes send to a tty in raw mode and collects what comes back until
// a final result code or the timeout.
func exchange(tty, send string, timeout time.Duration) (string, error) {
	fd, err := unix.Open(tty, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), tty)
	defer f.Close()
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS
	t.Cflag |= unix.CS8 | unix.CLOCAL | unix.CREAD
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return "", err
	}
	if _, err := f.WriteString(send); err != nil {
		return "", err
	}
	deadline := time.Now().Add(timeout)
	var got strings.Builder
	buf := make([]byte, 512)
	for time.Now().Before(deadline) {
		_ = f.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _ := f.Read(buf)
		got.Write(buf[:n])
		s := got.String()
		if strings.Contains(s, "OK\r\n") || strings.Contains(s, "ERROR") || strings.Contains(s, "CONNECT") {
			return s, nil
		}
	}
	return got.String(), fmt.Errorf("no final result from %s within %v", tty, timeout)
}
