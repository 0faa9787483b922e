package ddns

import (
	"fmt"
	"io"
	"os"
)

// maxSecretBytes bounds what is read from a secret file: a token, a password
// or a credentials file of a few profiles is far smaller.
const maxSecretBytes = 64 << 10

// readSecret reads a credentials file named by config key key. Secrets live
// in files of their own rather than in failberry.yaml, which every user may
// read; a file that anyone but its owner may read or write is refused
// (a *PermanentError: retrying cannot help until someone runs chmod), since
// these keys can rewrite the house's DNS. The file is read at every update,
// so a rotated key is picked up without a restart.
func readSecret(key, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &PermanentError{Reason: key, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &PermanentError{Reason: key, Err: err}
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, &PermanentError{Reason: key, Err: fmt.Errorf(
			"%s has mode %04o, so other users could read or change the secret; run chmod 600 %s", path, perm, path)}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretBytes))
	if err != nil {
		return nil, &PermanentError{Reason: key, Err: fmt.Errorf("reading %s: %w", path, err)}
	}
	return data, nil
}
