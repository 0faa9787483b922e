//go:build bench

package systemd

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/testenv"
)

// TestRealJournal writes an event to the running journald (DefaultJournalSocket)
// and reads it back with journalctl. It needs a booted systemd, i.e. the VM
// bench, hence the bench build tag (go test -tags bench ./systemd/).
func TestRealJournal(t *testing.T) {
	testenv.RequireTools(t, "journalctl")
	if _, err := os.Stat(DefaultJournalSocket); err != nil {
		testenv.Skip(t, "needs a running journald at %s: %v", DefaultJournalSocket, err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	e := NewEventsWithSender(nil, JournalSocket{})
	e.Emit(RecoveryStep, "test event", map[string]string{"step": "power-cycle", "attempt": "1", "test_token": token})
	var out []byte
	for range 50 {
		o, err := exec.Command("journalctl", "-o", "json", "MESSAGE_ID="+RecoveryStep.ID, "FAILBERRY_TEST_TOKEN="+token).Output()
		if err == nil && len(strings.TrimSpace(string(o))) > 0 {
			out = o
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out == nil {
		t.Fatal("event not found in the journal")
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(string(out), "\n", 2)[0]), &entry); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"MESSAGE": "test event", "PRIORITY": "4", "SYSLOG_IDENTIFIER": "failberry",
		"FAILBERRY_STEP": "power-cycle", "FAILBERRY_ATTEMPT": "1", "FAILBERRY_KIND": "recovery-step"} {
		if entry[k] != want {
			t.Errorf("%s = %v, want %q", k, entry[k], want)
		}
	}
}
