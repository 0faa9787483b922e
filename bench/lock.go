package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Exclusive waits until no other bench VM runs on this machine and returns
// the function that lets the next one start. Two TCG guests on a 2-core
// build machine starve each other's timers and fail scenarios that pass
// alone, so every VM a test or the demo boots holds this lock (a flock, so a
// killed test releases it with its process).
func Exclusive() (release func(), err error) {
	path := filepath.Join(os.TempDir(), "failberry-bench-vm.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("bench lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		fmt.Fprintf(os.Stderr, "bench: another bench VM is running; waiting for %s\n", path)
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("bench lock %s: %w", path, err)
		}
	}
	return func() { f.Close() }, nil
}
