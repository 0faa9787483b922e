package modem

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/failberry/failberry/internal/atomicfile"
)

// PINStore remembers PINs the SIM rejected, so a wrong modem.pin is sent once
// and never again, across restarts: three wrong PINs lock the SIM behind its
// PUK, and a daemon retrying every minute would get there within minutes.
type PINStore interface {
	// Rejected reports whether pin was rejected before.
	Rejected(pin string) bool
	// MarkRejected records pin as rejected.
	MarkRejected(pin string) error
}

// pinIterations makes each guess against the stored hash cost some work. A
// 4-digit PIN has only 10^4 values, so the hash slows an attacker who can read
// the file (mode 0600) but cannot stop one: it keeps the PIN out of plain
// sight in backups and logs.
const pinIterations = 20000

// maxRejected bounds the file; the oldest entries go first.
const maxRejected = 16

// FilePINStore is a PINStore in one file: one "v1 <salt> <hash>" line per
// rejected PIN (PBKDF2-SHA256, per-entry random salt, never the PIN).
type FilePINStore struct {
	path string
	mu   sync.Mutex
}

// NewFilePINStore returns a store at path (e.g. /var/lib/failberry/rejected-pins).
// The file and its directory are created on the first MarkRejected.
func NewFilePINStore(path string) PINStore { return &FilePINStore{path: path} }

type pinEntry struct{ salt, hash []byte }

func hashPIN(pin string, salt []byte) []byte {
	k, err := pbkdf2.Key(sha256.New, pin, salt, pinIterations, 32)
	if err != nil { // only for invalid parameters, which these are not
		panic(err)
	}
	return k
}

// load reads the entries; garbage lines are ignored.
func (s *FilePINStore) load() ([]pinEntry, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pin store: %w", err)
	}
	var out []pinEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "v1" {
			continue
		}
		salt, err1 := hex.DecodeString(f[1])
		hash, err2 := hex.DecodeString(f[2])
		if err1 == nil && err2 == nil && len(hash) == 32 && len(salt) > 0 {
			out = append(out, pinEntry{salt, hash})
		}
	}
	return out, nil
}

// Rejected reports whether pin was marked. If the file exists but cannot be
// read it answers true: refusing a good PIN is recoverable, locking the SIM is not.
func (s *FilePINStore) Rejected(pin string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.load()
	if err != nil {
		return true
	}
	for _, e := range entries {
		if subtle.ConstantTimeCompare(hashPIN(pin, e.salt), e.hash) == 1 {
			return true
		}
	}
	return false
}

// MarkRejected appends pin's salted hash, writing a temp file, fsyncing it,
// renaming it over the old one and fsyncing the directory.
func (s *FilePINStore) MarkRejected(pin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.load()
	if err != nil {
		entries = nil // rewrite a file we cannot read rather than lose this PIN
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("mark pin rejected: %w", err)
	}
	entries = append(entries, pinEntry{salt, hashPIN(pin, salt)})
	if len(entries) > maxRejected {
		entries = entries[len(entries)-maxRejected:]
	}
	var buf bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&buf, "v1 %x %x\n", e.salt, e.hash)
	}
	if err := atomicfile.Write(s.path, buf.Bytes()); err != nil {
		return fmt.Errorf("mark pin rejected: %w", err)
	}
	return nil
}
