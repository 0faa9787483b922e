package pppd

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// staleGrace is how long a stale pppd gets to hang up before SIGKILL.
const staleGrace = 3 * time.Second

// KillStale terminates a pppd left running by a crashed earlier run of the
// daemon, found through its pid file <runDir>/ppp-<linkname>.pid (normally
// runDir is /run). The pid is only signalled when /proc/<pid>/comm says
// "pppd", so a recycled pid is never hit. A missing pid file is not an error.
func KillStale(runDir, linkname string, logger *slog.Logger) error {
	return killStale("/proc", runDir, linkname, logger)
}

func killStale(procRoot, runDir, linkname string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pidFile := filepath.Join(runDir, "ppp-"+linkname+".pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kill stale pppd: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 1 {
		logger.Warn("removing unreadable pppd pid file", "file", pidFile)
		return removePidFile(pidFile)
	}
	comm, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != "pppd" {
		logger.Info("removing stale pppd pid file: process gone", "file", pidFile, "pid", pid)
		return removePidFile(pidFile)
	}
	logger.Warn("terminating pppd left by an earlier run", "pid", pid)
	if err := signalUntilGone(procRoot, pid); err != nil {
		return fmt.Errorf("kill stale pppd %d: %w", pid, err)
	}
	return removePidFile(pidFile)
}

// signalUntilGone sends SIGTERM, then SIGKILL after staleGrace, and waits for
// the process to disappear (a zombie counts as gone: it is not ours to reap).
func signalUntilGone(procRoot string, pid int) error {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := syscall.Kill(pid, sig); errors.Is(err, syscall.ESRCH) {
			return nil
		} else if err != nil {
			return err
		}
		deadline := time.Now().Add(staleGrace)
		for time.Now().Before(deadline) {
			if gone(procRoot, pid) {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return fmt.Errorf("still running after SIGKILL")
}

func gone(procRoot string, pid int) bool {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// stat is "pid (comm) state ...": the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func removePidFile(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}
