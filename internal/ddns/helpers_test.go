package ddns

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Addresses from the documentation ranges, which PublicV4 and globalV6 take
// as public, as the bench's carrier does with 203.0.113.2.
var (
	addr1  = netip.MustParseAddr("203.0.113.2")
	addr2  = netip.MustParseAddr("203.0.113.77")
	addr3  = netip.MustParseAddr("198.51.100.9")
	addr6  = netip.MustParseAddr("2001:db8:5::2")
	noAddr = netip.Addr{}
)

// writeSecret writes a secret file of mode perm in t's temporary directory.
func writeSecret(t *testing.T, name, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func isPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

func isTransient(err error) bool {
	var tr *TransientError
	return errors.As(err, &tr)
}

// eventually polls cond every few milliseconds for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
