package systemd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// DefaultJournalSocket is where journald listens for the native protocol.
const DefaultJournalSocket = "/run/systemd/journal/socket"

// Sender writes one journal entry. fields hold journal field names
// (upper-case letters, digits, '_', not starting with '_').
type Sender interface {
	Send(message string, priority journal.Priority, fields map[string]string) error
}

// JournalSocket sends entries with journald's native protocol to a unixgram
// socket at Path (DefaultJournalSocket when empty). Unlike go-systemd's
// journal.Send, whose socket path is fixed, the path is a parameter, so tests
// and the VM bench can point it at a socket they control or at the real one.
// Entries larger than one datagram (about 200 KB) fail; events are short.
type JournalSocket struct {
	Path string
}

// Send implements Sender.
func (j JournalSocket) Send(message string, priority journal.Priority, fields map[string]string) error {
	path := j.Path
	if path == "" {
		path = DefaultJournalSocket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("journal: dial %s: %w", path, err)
	}
	defer conn.Close()
	if _, err := conn.Write(EncodeNative(message, priority, fields)); err != nil {
		return fmt.Errorf("journal: send to %s: %w", path, err)
	}
	return nil
}

// EncodeNative encodes an entry in journald's native protocol: "NAME=value\n",
// or for values containing a newline "NAME\n" + 64-bit little-endian length +
// value + "\n". Invalid field names are repaired by sanitizeField, never dropped.
func EncodeNative(message string, priority journal.Priority, fields map[string]string) []byte {
	var b bytes.Buffer
	appendField(&b, "PRIORITY", strconv.Itoa(int(priority)))
	appendField(&b, "MESSAGE", message)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		appendField(&b, sanitizeField(k), fields[k])
	}
	return b.Bytes()
}

func appendField(b *bytes.Buffer, name, value string) {
	if !strings.ContainsRune(value, '\n') {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(value)
		b.WriteByte('\n')
		return
	}
	b.WriteString(name)
	b.WriteByte('\n')
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(value)))
	b.Write(n[:])
	b.WriteString(value)
	b.WriteByte('\n')
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
