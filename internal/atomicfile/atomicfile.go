// Package atomicfile writes small state files so that a reader, a crash or a
// power loss sees either the old file or the new one, never a torn one: the
// daemon's state on an SD card must survive the Pi losing power mid-write.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, mode 0600 (state is root's business): a
// temporary file in the same directory is written, synced, renamed over
// path, and the directory synced so the rename itself is durable.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
