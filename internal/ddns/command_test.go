package ddns

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func commandProvider(t *testing.T, script string) (Provider, string) {
	t.Helper()
	dir := t.TempDir()
	c := DefaultConfig()
	c.Provider = ProviderCommand
	c.Name = "vpn.example.com"
	c.Command.Argv = []string{"/bin/sh", "-c", script, "update-dns", dir}
	p, err := NewProvider(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, dir
}

func TestCommandGetsTheAddress(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("WATCHDOG_USEC", "30000000")
	p, dir := commandProvider(t, `env > "$1/env"`)
	if err := p.Update(context.Background(), "vpn.example.com", addr6); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	env := string(data)
	for _, want := range []string{"FAILBERRY_DDNS_NAME=vpn.example.com\n", "FAILBERRY_DDNS_TYPE=AAAA\n", "FAILBERRY_DDNS_ADDR=2001:db8:5::2\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q", want)
		}
	}
	if strings.Contains(env, "NOTIFY_SOCKET") || strings.Contains(env, "WATCHDOG_USEC") {
		t.Errorf("systemd's notify variables reached the command:\n%s", env)
	}
}

func TestCommandExitStatus(t *testing.T) {
	ctx := context.Background()
	p, _ := commandProvider(t, `echo "bad password for $FAILBERRY_DDNS_ADDR" >&2; exit 2`)
	err := p.Update(ctx, "vpn.example.com", addr1)
	if !isPermanent(err) || !strings.Contains(err.Error(), "bad password for 203.0.113.2") {
		t.Errorf("exit 2: %v, want permanent with the output", err)
	}
	p, _ = commandProvider(t, `exit 1`)
	if err := p.Update(ctx, "vpn.example.com", addr1); !isTransient(err) {
		t.Errorf("exit 1: %v, want transient", err)
	}
}

func TestCommandKilledAtTimeLimit(t *testing.T) {
	// The script leaves a child that holds its output open, as a shell
	// script's curl would; both must go at the time limit.
	p, dir := commandProvider(t, `sleep 60 & echo $! > "$1/child"; wait`)
	const limit = time.Second // ample for sh to start and write the pid file on a busy machine
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	err := p.Update(ctx, "vpn.example.com", addr1)
	took := time.Since(start)
	if !isTransient(err) || !strings.Contains(err.Error(), "time limit") {
		t.Errorf("got %v, want a transient time-limit error", err)
	}
	if took > limit+commandWaitDelay {
		t.Errorf("Update took %v with a limit of %v", took, limit)
	}
	data, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	eventually(t, 2*time.Second, "the script's child killed", func() bool { return dead(pid) })
}

// dead reports whether pid has exited: gone, or a zombie waiting for
// whichever process adopted it to reap it.
func dead(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(rest, "Z")
}
