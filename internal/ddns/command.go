package ddns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Command runs a program to publish the address, for services without a
// provider here. The program gets the record in its environment:
//
//	FAILBERRY_DDNS_NAME  the configured name
//	FAILBERRY_DDNS_TYPE  A or AAAA
//	FAILBERRY_DDNS_ADDR  the address
//
// Exit status 0 means published, exitRefused means refused for good (stop
// retrying, as for a bad password), anything else a failure to retry. It runs
// in a process group of its own that is killed as a whole when the attempt's
// context ends, so a shell script's curl does not outlive it; WaitDelay then
// bounds the wait for anything still holding its output open.
type Command struct {
	Argv []string
}

const (
	// exitRefused is the exit status a program uses to say "do not retry".
	exitRefused = 2
	// commandWaitDelay is how long Update waits for the output to close
	// after the program exited or was killed.
	commandWaitDelay = 2 * time.Second
	// maxOutputBytes of the program's output are kept for the error.
	maxOutputBytes = 2 << 10
)

// Update implements Provider.
func (c *Command) Update(ctx context.Context, name string, addr netip.Addr) error {
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = append(childEnv(os.Environ()),
		"FAILBERRY_DDNS_NAME="+name,
		"FAILBERRY_DDNS_TYPE="+recordType(addr),
		"FAILBERRY_DDNS_ADDR="+addr.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = commandWaitDelay
	out := &headBuffer{max: maxOutputBytes}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	detail := fmt.Errorf("%s: %w: %s", strings.Join(c.Argv, " "), err, firstLine(strings.TrimSpace(string(out.b))))
	if ctx.Err() != nil {
		return &TransientError{Reason: "killed at the time limit", Err: detail}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == exitRefused {
		return &PermanentError{Reason: fmt.Sprintf("exit status %d", exitRefused), Err: detail}
	}
	return &TransientError{Reason: "command failed", Err: detail}
}

// childEnv is the daemon's environment less systemd's notify and watchdog
// variables, which would let the child talk to systemd as the daemon.
func childEnv(env []string) []string {
	var keep []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "WATCHDOG_") {
			continue
		}
		keep = append(keep, kv)
	}
	return keep
}

// headBuffer keeps the first max bytes written to it and drops the rest,
// so a chatty program cannot grow the daemon.
type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if n := h.max - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}
