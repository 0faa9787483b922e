package modem

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrInsecurePINFile is returned by ReadPINFile when every user can read the
// file.
var ErrInsecurePINFile = errors.New("pin_file is world-readable")

// ReadPINFile returns the SIM PIN kept in the file at path (modem.pin_file).
// The daemon reads it at each unlock, not at start, so a PIN changed on disk
// is picked up without a restart. The file must not be readable by every
// user and must hold 4 to 8 digits.
func ReadPINFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading modem.pin_file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading modem.pin_file: %w", err)
	}
	if st.Mode().Perm()&0o004 != 0 {
		return "", fmt.Errorf("modem.pin_file %s has mode %04o, so every user can read the SIM PIN; run chmod 600 %s: %w",
			path, st.Mode().Perm(), path, ErrInsecurePINFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return "", fmt.Errorf("reading modem.pin_file %s: %w", path, err)
	}
	pin := strings.TrimSpace(string(data))
	if !ValidPIN(pin) {
		return "", fmt.Errorf("modem.pin_file %s does not hold a PIN of 4 to 8 digits", path)
	}
	return pin, nil
}
