package systemd

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// Sender writes one journal entry. fields hold journal field names
// (upper-case letters, digits, '_', not starting with '_').
type Sender interface {
	Send(message string, priority journal.Priority, fields map[string]string) error
}

// sanitizeField turns any string into a valid journal field name: upper case,
// [A-Z0-9_] only, no leading '_' or digit, at most 64 characters.
func sanitizeField(name string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "X" + s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// goSystemdJournal sends through go-systemd's journal package (the default
// socket, with its large-entry fallback through a memfd).
type goSystemdJournal struct{}

func (goSystemdJournal) Send(message string, priority journal.Priority, fields map[string]string) error {
	if err := journal.Send(message, priority, fields); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}
