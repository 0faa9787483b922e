//go:build bench

package bench_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/internal/testenv"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

var (
	buildMu  sync.Once
	binDir   string
	buildErr error
)

// buildOnce compiles the guest's programs once per test binary.
func buildOnce(tb testing.TB) {
	tb.Helper()
	buildMu.Do(func() {
		// One directory per source tree: worktrees testing at once on one
		// machine must not boot each other's binaries (the VM copies them
		// only once it holds the bench lock).
		binDir = filepath.Join(os.TempDir(), fmt.Sprintf("failberry-bench-bin-%x", sha256.Sum256([]byte(bench.SourceDir())))[:len("failberry-bench-bin-")+12])
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		buildErr = bench.Build(ctx, binDir)
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
}

// buildArch compiles the guest's programs for an ARM VM (bench.BuildFor)
// into a directory of that architecture's.
func buildArch(tb testing.TB, arch string) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("failberry-bench-bin-%s-%x", arch, sha256.Sum256([]byte(bench.SourceDir())))[:len("failberry-bench-bin--")+len(arch)+12])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := bench.BuildFor(ctx, dir, arch); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// startVM boots a bench VM for one test. On failure it prints the guest
// console, the modem transcript and every log of the run.
func startVM(t *testing.T, cfg sim.Config) (context.Context, *bench.VM) {
	t.Helper()
	return startVMWith(t, cfg, false)
}

// startVMWith boots the VM, with real systemd as init when systemd is set.
func startVMWith(t *testing.T, cfg sim.Config, systemd bool) (context.Context, *bench.VM) {
	t.Helper()
	return startVMFor(t, cfg, systemd, 12*time.Minute)
}

// startVMFor is startVMWith for a test that may take up to limit in all
// (several scenarios in one VM).
func startVMFor(t *testing.T, cfg sim.Config, systemd bool, limit time.Duration, edit ...func(*bench.Options)) (context.Context, *bench.VM) {
	t.Helper()
	testenv.RequireRoot(t)
	var probe bench.Options // the architecture, before anything is set up for it
	for _, e := range edit {
		e(&probe)
	}
	testenv.RequireTools(t, bench.QemuFor(probe.Arch), "pppd", "chat", "uhubctl", "iptables", "conntrack")
	var bin string
	if probe.Arch == "" {
		if _, _, err := bench.Kernel(); err != nil {
			testenv.Skip(t, "%v", err)
		}
		buildOnce(t)
		bin = binDir
	} else {
		bin = buildArch(t, probe.Arch)
	}
	release, err := bench.Exclusive()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	cfg.Seed = time.Now().UnixNano()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Logger = logger
	work := t.TempDir()
	if keep := os.Getenv("FAILBERRY_BENCH_KEEP"); keep != "" { // keep the logs for a look afterwards
		work = filepath.Join(keep, t.Name())
		os.RemoveAll(work)
	}
	opts := bench.Options{Work: work, Bin: bin, Modem: cfg, Logger: logger, Systemd: systemd}
	for _, e := range edit {
		e(&opts)
	}
	vm, err := bench.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the bench VM: %v", err)
	}
	t.Cleanup(func() {
		// The guest's state (the daemon's journal) comes last: CI shows
		// the tail of a failed test's output.
		if t.Failed() {
			var b strings.Builder
			vm.Report(&b)
			t.Log(b.String())
			dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
			diag, err := vm.Run(dctx, 15*time.Second, diagScript)
			dcancel()
			t.Logf("guest state at failure (%v):\n%s", err, diag)
		}
		vm.Close()
	})
	t.Logf("VM up in %v", vm.Boot.Round(100*time.Millisecond))
	return ctx, vm
}

// diagScript shows the guest's network state when a scenario fails.
const diagScript = `set +e
echo "## processes"; ps -eo pid,stat,args | grep -E 'pppd|failberry|socat' | grep -v grep
for ns in "" lan isp router stick; do
  [ -z "$ns" ] || [ -e /run/netns/$ns ] || continue
  x=; [ -n "$ns" ] && x="ip netns exec $ns"
  echo "## netns ${ns:-gateway}: addresses"; $x ip -br addr
  echo "## routes"; $x ip route; $x ip -6 route
done
echo "## iptables"; iptables-save | grep -v '^#'
echo "## ip rules"; ip rule; ip -6 rule; for tb in $(ip rule | sed -n 's/.*lookup \([0-9]*\).*/\1/p' | sort -u); do echo "## table $tb"; ip route show table $tb; done
[ -e /run/netns/router ] && { echo "## router iptables"; ip netns exec router iptables-save -t nat | grep -v '^#'; }
echo "## conntrack"; conntrack -L 2>/dev/null | head -30
echo "## sysctl"; sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.conf.all.rp_filter net.ipv4.conf.eth0.rp_filter
if [ -d /run/systemd/system ]; then
  echo "## systemd"; systemctl status failberry --no-pager 2>&1 | head -20
  journalctl -u failberry --no-pager -n 60 2>&1
fi`

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func setupNetworks(t testing.TB, ctx context.Context, vm *bench.VM) {
	t.Helper()
	if err := vm.SetupNetworks(ctx); err != nil {
		t.Fatal(err)
	}
}

// guest runs a script in the guest and fails the test if it fails.
func guest(t testing.TB, ctx context.Context, vm *bench.VM, timeout time.Duration, sh string) string {
	t.Helper()
	out, err := vm.Run(ctx, timeout, sh)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func background(t testing.TB, ctx context.Context, vm *bench.VM, logName, sh string) int {
	t.Helper()
	pid, err := vm.Background(ctx, logName, sh)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGuest polls a guest condition until it holds.
func waitGuest(t testing.TB, ctx context.Context, vm *bench.VM, timeout time.Duration, cond string) {
	t.Helper()
	var lastErr error
	ok := poll(timeout, func() bool {
		_, lastErr = vm.Run(ctx, 10*time.Second, cond)
		return lastErr == nil
	})
	if !ok {
		t.Fatalf("guest condition not met within %v: %s\nlast: %v", timeout, cond, lastErr)
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("%s: not within %v", what, timeout)
	}
}

func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// journalEntry is a journal entry as `journalctl -o json` gives it.
type journalEntry map[string]any

// str is a string field of the entry ("" when absent).
func (e journalEntry) str(k string) string { s, _ := e[k].(string); return s }

// at is the entry's time on the guest's clock.
func (e journalEntry) at() time.Time {
	us, _ := strconv.ParseInt(e.str("__REALTIME_TIMESTAMP"), 10, 64)
	return time.UnixMicro(us)
}

// journalOf reads the journal's entries of the kinds given, by MESSAGE_ID,
// logged at or after the guest time sinceUsec (microseconds; 0: all),
// oldest first, in one journalctl run.
func journalOf(t testing.TB, ctx context.Context, vm *bench.VM, sinceUsec int64, kinds ...systemd.Kind) []journalEntry {
	t.Helper()
	var match []string
	for _, k := range kinds {
		match = append(match, "MESSAGE_ID="+k.ID)
	}
	out := guest(t, ctx, vm, 20*time.Second, `journalctl --no-pager -o json `+strings.Join(match, " "))
	var es []journalEntry
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var e journalEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("journalctl -o json: %v: %q", err, line)
		}
		if e.at().UnixMicro() >= sinceUsec {
			es = append(es, e)
		}
	}
	return es
}
