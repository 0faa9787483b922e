package failover

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// DrillFile keeps a running drill's end on disk, so that a daemon that
// restarts in the middle of one (a crash, a SIGKILL, an upgrade) carries it
// to its end and then undoes it, instead of forgetting it half-done or
// drilling for ever. It is written once per drill, never per poll.
type DrillFile struct {
	Path string
	// Write stores the file whole (atomicfile.Write in the daemon).
	Write func(path string, data []byte) error
}

type drillState struct {
	Until time.Time `json:"until"`
}

// Load returns the stored drill's end, zero when there is none, and
// removes a stored drill that is over. A file that cannot be read as a
// drill is removed too, with the error: a drill nobody can end would be
// worse than a drill lost.
func (f DrillFile) Load(now time.Time) (time.Time, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("drill state: %w", err)
	}
	var s drillState
	if err := json.Unmarshal(b, &s); err != nil || s.Until.IsZero() {
		_ = f.Clear()
		return time.Time{}, fmt.Errorf("drill state %s is not a drill (%v): removed", f.Path, err)
	}
	if !now.Before(s.Until) {
		return time.Time{}, f.Clear()
	}
	return s.Until, nil
}

// Save stores a drill that ends at until.
func (f DrillFile) Save(until time.Time) error {
	b, err := json.Marshal(drillState{Until: until.UTC()})
	if err != nil {
		return err
	}
	if err := f.Write(f.Path, b); err != nil {
		return fmt.Errorf("drill state: %w", err)
	}
	return nil
}

// Clear removes the stored drill.
func (f DrillFile) Clear() error {
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("drill state: %w", err)
	}
	return nil
}
