package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/failberry/failberry/internal/atomicfile"
)

// RebootGuard decides whether the daemon may reboot the Pi now: at most
// MaxPerDay reboots in any 24 hours and never before MinUptime. The reboots it
// allowed are counted in a state file written atomically, so the limit holds
// across daemon restarts, the reboots themselves and power loss.
type RebootGuard struct {
	Path      string        // e.g. /var/lib/failberry/reboots.json
	MaxPerDay int           // 0: never
	MinUptime time.Duration // since the kernel booted
	Now       func() time.Time
	Uptime    func() (time.Duration, error) // default: /proc/uptime
}

type rebootState struct {
	Reboots []time.Time `json:"reboots"`
}

// Allow reports whether a reboot is allowed now, and if not, why.
func (g *RebootGuard) Allow() (bool, string, error) {
	if g.MaxPerDay <= 0 {
		return false, "rebooting is disabled (recovery.reboot.enabled: false)", nil
	}
	up, err := g.uptime()
	if err != nil {
		return false, "", err
	}
	if up < g.MinUptime {
		return false, fmt.Sprintf("uptime %v is below recovery.reboot.min_uptime %v", up.Round(time.Second), g.MinUptime), nil
	}
	st, err := g.load()
	if err != nil {
		return false, "", err
	}
	if n := len(g.recent(st)); n >= g.MaxPerDay {
		return false, fmt.Sprintf("%d reboots in the last 24h reached recovery.reboot.max_per_day", n), nil
	}
	return true, "", nil
}

// Record counts a reboot about to happen. It must be durable before the
// reboot command runs, or a crash loop could reboot forever.
func (g *RebootGuard) Record() error {
	st, err := g.load()
	if err != nil {
		return err
	}
	st.Reboots = append(g.recent(st), g.now())
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.Write(g.Path, b)
}

func (g *RebootGuard) recent(st rebootState) []time.Time {
	cut := g.now().Add(-24 * time.Hour)
	var out []time.Time
	for _, t := range st.Reboots {
		if t.After(cut) {
			out = append(out, t)
		}
	}
	return out
}

func (g *RebootGuard) load() (rebootState, error) {
	var st rebootState
	b, err := os.ReadFile(g.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading reboot state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		// A torn or corrupt file must not allow unlimited reboots: count it
		// as a full day's worth.
		st.Reboots = nil
		for range g.MaxPerDay {
			st.Reboots = append(st.Reboots, g.now())
		}
		return st, nil
	}
	return st, nil
}

func (g *RebootGuard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *RebootGuard) uptime() (time.Duration, error) {
	if g.Uptime != nil {
		return g.Uptime()
	}
	return procUptime("/proc/uptime")
}

func procUptime(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading uptime: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("reading uptime: empty %s", path)
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("reading uptime: %w", err)
	}
	return time.Duration(s * float64(time.Second)), nil
}
