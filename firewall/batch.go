package firewall

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-iptables/iptables"
)

// Batch is implemented by Tables that can read and change a whole address
// family with one program run each: iptables-save and iptables-restore
// --noflush. Every iptables call is a fork and exec of a big binary, which
// takes a good part of a second on a slow Raspberry Pi, so Apply uses Batch
// when it is there and falls back to one call per rule when it is not.
type Batch interface {
	// Save returns every table of the family in iptables-save format.
	Save(ctx context.Context) (string, error)
	// Restore feeds script to iptables-restore --noflush: chains and rules
	// the script does not name are kept, and each table block is committed
	// as one atomic transaction (one nft batch, or one table replace with
	// the legacy backend), so packets never see a half-applied change.
	Restore(ctx context.Context, script string) error
}

// batchTimeout bounds one iptables-save or iptables-restore run: the xtables
// lock wait plus a slow start on a busy Pi. A hung run must not stall the
// daemon's stop forever.
const batchTimeout = lockWaitSeconds*time.Second + 55*time.Second

// systemTables is iptables-save and iptables-restore of one backend, with
// go-iptables behind the Tables methods that Apply never calls on a Batch.
type systemTables struct {
	lazyTables
	save, restore string
}

var _ Batch = (*systemTables)(nil)

// newSystemTables opens the iptables command at path (a name is looked up on
// PATH) for proto. The save and restore commands are path with "-save" and
// "-restore" appended, which picks the same backend: iptables-nft gives
// iptables-nft-restore, iptables-legacy gives iptables-legacy-restore, and
// Debian's iptables alternative switches iptables-restore along with it.
// When they are missing the plain per-rule *iptables.IPTables is returned.
//
// With save and restore, go-iptables is not opened here: iptables.New runs
// `iptables --version`, one more program run (a tenth of a second on the
// bench, more on a Pi) that the daemon's first apply, and so its first dial,
// would wait for, and whose answer the batch path never uses.
func newSystemTables(path string, proto iptables.Protocol) (Tables, error) {
	full, err := exec.LookPath(path)
	if err != nil {
		return nil, err
	}
	open := func() (*iptables.IPTables, error) {
		return iptables.New(iptables.Path(full), iptables.IPFamily(proto), iptables.Timeout(lockWaitSeconds))
	}
	save, errSave := exec.LookPath(full + "-save")
	restore, errRestore := exec.LookPath(full + "-restore")
	if errSave != nil || errRestore != nil {
		return open()
	}
	return &systemTables{lazyTables: lazyTables{open: sync.OnceValues(open)}, save: save, restore: restore}, nil
}

func (s *systemTables) Save(ctx context.Context) (string, error) {
	return runTool(ctx, s.save, "")
}

func (s *systemTables) Restore(ctx context.Context, script string) error {
	_, err := runTool(ctx, s.restore, script, "--noflush", "--wait="+strconv.Itoa(lockWaitSeconds))
	if err != nil {
		// The nft backend reports errors found at commit on the COMMIT
		// line; its message names the culprit then.
		if l, ok := failedLine(err.Error(), script); ok && l != "COMMIT" {
			err = fmt.Errorf("%w (line %q)", err, l)
		}
	}
	return err
}

// runTool runs one save or restore command with stdin and returns its
// standard output; errors carry the command line and its standard error.
// The run ends with ctx (the daemon's stop has its own deadline, shorter
// than batchTimeout) or after batchTimeout, whichever comes first.
func runTool(ctx context.Context, path, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, batchTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.WaitDelay = time.Second
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

var errorLine = regexp.MustCompile(`Error occurred at line: (\d+)`)

// failedLine finds the script line iptables-restore complained about.
func failedLine(msg, script string) (string, bool) {
	m := errorLine.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	n, err := strconv.Atoi(m[1])
	lines := strings.Split(script, "\n")
	if err != nil || n < 1 || n > len(lines) {
		return "", false
	}
	return lines[n-1], true
}
