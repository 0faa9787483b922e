package pppd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startNamed runs sleep under the given command name (its /proc comm), as a
// stand-in for a pppd left behind by a crashed daemon.
func startNamed(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "3600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return cmd
}

func writePid(t *testing.T, dir string, content string) string {
	t.Helper()
	p := filepath.Join(dir, "ppp-failberry.pid")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKillStale(t *testing.T) {
	run := t.TempDir()
	cmd := startNamed(t, "pppd")
	pidFile := writePid(t, run, strconv.Itoa(cmd.Process.Pid)+"\nppp0\n")
	if err := KillStale(run, "failberry", nil); err != nil {
		t.Fatal(err)
	}
	if !gone("/proc", cmd.Process.Pid) {
		t.Errorf("stale pppd %d still running", cmd.Process.Pid)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
}

func TestKillStaleSparesOtherProcess(t *testing.T) {
	run := t.TempDir()
	cmd := startNamed(t, "notpppd")
	pidFile := writePid(t, run, strconv.Itoa(cmd.Process.Pid)+"\nppp0\n")
	if err := KillStale(run, "failberry", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := syscall.Kill(cmd.Process.Pid, 0); err != nil || gone("/proc", cmd.Process.Pid) {
		t.Errorf("KillStale hit a recycled pid: %v", err)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("stale pid file left: %v", err)
	}
}

func TestKillStaleGarbage(t *testing.T) {
	run := t.TempDir()
	if err := KillStale(run, "failberry", nil); err != nil {
		t.Fatalf("no pid file: %v", err)
	}
	for _, content := range []string{"", "garbage", "-5\n", "1\n", "\x00\xff", "99999999999999999999"} {
		pidFile := writePid(t, run, content)
		if err := KillStale(run, "failberry", nil); err != nil {
			t.Errorf("%q: %v", content, err)
		}
		if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
			t.Errorf("%q: pid file left", content)
		}
	}
}

func TestGoneParsesStat(t *testing.T) {
	proc := t.TempDir()
	for pid, stat := range map[int]string{1: "1 (a) b) S 0", 2: "2 (pppd) Z 1", 3: "3 (x", 4: ""} {
		d := filepath.Join(proc, strconv.Itoa(pid))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "stat"), []byte(stat), 0o644)
	}
	want := map[int]bool{1: false, 2: true, 3: false, 4: false, 5: true}
	for pid, w := range want {
		if got := gone(proc, pid); got != w {
			t.Errorf("gone(%d) = %v, want %v", pid, got, w)
		}
	}
}
