package config

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// ResolvePIN returns the SIM PIN from modem.pin or modem.pin_file. The file
// is read now, not at Load, so a PIN changed on disk is picked up at the next
// unlock; it must not be readable by every user (ErrInsecurePINFile) and
// must hold 4 to 8 digits. With neither key set it returns ErrNoPIN.
func (c Config) ResolvePIN() (string, error) {
	m := c.Modem
	if m.PIN != "" {
		return m.PIN, nil
	}
	if m.PINFile == "" {
		return "", ErrNoPIN
	}
	f, err := os.Open(m.PINFile)
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
			m.PINFile, st.Mode().Perm(), m.PINFile, ErrInsecurePINFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return "", fmt.Errorf("reading modem.pin_file %s: %w", m.PINFile, err)
	}
	pin := strings.TrimSpace(string(data))
	if checkPIN(pin) != "" {
		return "", fmt.Errorf("modem.pin_file %s does not hold a PIN of 4 to 8 digits", m.PINFile)
	}
	return pin, nil
}
