package sim

import (
	"fmt"
	"strings"
	"time"
)

// transcript is a bounded ring of timestamped lines, for failure reports.
type transcript struct {
	max   int
	lines []string
	start int
}

func (t *transcript) add(line string) {
	line = time.Now().Format("15:04:05.000") + " " + line
	if len(t.lines) < t.max {
		t.lines = append(t.lines, line)
		return
	}
	t.lines[t.start] = line
	t.start = (t.start + 1) % t.max
}

func (t *transcript) String() string {
	var b strings.Builder
	for i := range t.lines {
		b.WriteString(t.lines[(t.start+i)%len(t.lines)])
		b.WriteByte('\n')
	}
	return b.String()
}

// printable escapes control and non-ASCII bytes so a transcript line stays
// one readable line.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\n':
			b.WriteString(`\n`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
