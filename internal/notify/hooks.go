package notify

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// hooks runs the executables of a directory on each event, one at a time:
// every hook of an event, in lexical order, before the next event's. The
// directory is read for every event, so a hook added or removed takes
// effect without a restart.
//
// A hook gets the daemon's environment (less systemd's notify and watchdog
// variables) and:
//
//	FAILBERRY_EVENT       the kind, such as link-down
//	FAILBERRY_MESSAGE_ID  its journal MESSAGE_ID
//	FAILBERRY_MESSAGE     the message
//	FAILBERRY_TIME        when, RFC 3339
//	FAILBERRY_<FIELD>     each field of the event, as in the journal
//	                      (FAILBERRY_INTERFACE, FAILBERRY_STEP, ...)
//
// It runs in a process group of its own, killed as a whole at the time
// limit, so a script's children do not outlive it. Its exit status and
// output are logged when it fails; nothing it does stops the next hook.
type hooks struct {
	dir     string
	timeout time.Duration
	log     *slog.Logger
}

const (
	// hookWaitDelay bounds the wait for a killed hook's output to close.
	hookWaitDelay = 2 * time.Second
	// maxHookOutput bytes of a hook's output are kept for the log.
	maxHookOutput = 1 << 10
)

func (h *hooks) run(ctx context.Context, q *queue) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-q.ch:
			for _, path := range h.list() {
				h.runOne(ctx, path, ev)
			}
		}
	}
}

// list returns the hooks to run, in lexical order: regular executable files
// whose names are not editor or package manager leftovers.
func (h *hooks) list() []string {
	entries, err := os.ReadDir(h.dir) // sorted by name
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			h.log.Warn("reading the hooks directory", "err", err)
		}
		return nil
	}
	var out []string
	for _, e := range entries {
		path := filepath.Join(h.dir, e.Name())
		st, err := os.Stat(path) // follows a symlink to its hook
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 || skipHook(e.Name()) {
			continue
		}
		out = append(out, path)
	}
	return out
}

// skipHook reports whether a file name is a leftover rather than a hook: a
// hidden file (an editor's swap file), an editor backup (name~, #name#,
// .bak, .orig, .swp) or a file dpkg or ucf left beside a conffile.
func skipHook(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "#") || strings.HasSuffix(name, "~") {
		return true
	}
	ext := filepath.Ext(name)
	return slices.Contains([]string{".bak", ".orig", ".old", ".swp", ".tmp", ".rej"}, ext) ||
		strings.HasPrefix(ext, ".dpkg-") || strings.HasPrefix(ext, ".ucf-")
}

func (h *hooks) runOne(ctx context.Context, path string, ev Event) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Dir = "/"
	cmd.Env = append(childEnv(os.Environ()), hookEnv(ev)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = hookWaitDelay
	out := &headBuffer{max: maxHookOutput}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		h.log.Warn("hook killed at its time limit", "hook", path, "kind", ev.Kind, "timeout", h.timeout, "output", out.String())
	case err != nil:
		h.log.Warn("hook failed", "hook", path, "kind", ev.Kind, "err", err, "took", took, "output", out.String())
	default:
		h.log.Debug("hook ran", "hook", path, "kind", ev.Kind, "took", took)
	}
}

// hookEnv is the event's part of a hook's environment; the fixed names come
// last, so a field cannot hide them.
func hookEnv(ev Event) []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(ev.Fields)) {
		env = append(env, "FAILBERRY_"+k+"="+ev.Fields[k])
	}
	return append(env,
		"FAILBERRY_EVENT="+ev.Kind,
		"FAILBERRY_MESSAGE_ID="+ev.ID,
		"FAILBERRY_MESSAGE="+ev.Message,
		"FAILBERRY_TIME="+ev.Time.Format(time.RFC3339))
}

// childEnv is the daemon's environment less systemd's notify and watchdog
// variables, which would let a hook talk to systemd as the daemon.
func childEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "WATCHDOG_") || strings.HasPrefix(kv, "FAILBERRY_")
	})
}

// headBuffer keeps the first max bytes written to it and discards the rest.
type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) String() string { return strings.TrimSpace(string(h.b)) }
