// Package value holds the YAML value types of failberry's config that the
// sections owned by other packages use too (a section's package cannot
// import internal/config, which imports it). Each reads what a user writes
// and prints the same form back, so `failberry check` output parses.
package value

import (
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"
)

// Duration is written with a unit, "90s" or "1m"; a bare number is an error
// (the walker says so), as "90" could mean seconds or nanoseconds.
type Duration time.Duration

// String prints the duration as a user writes it: "1m", not "1m0s".
func (d Duration) String() string {
	s, _ := strings.CutSuffix(time.Duration(d).String(), "m0s")
	if s != time.Duration(d).String() {
		s += "m"
	}
	return strings.Replace(s, "h0m", "h", 1)
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	*d = Duration(v)
	return err
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Bytes is a byte count: 5000000, "5MB", "512KiB", "1GB".
type Bytes int64

func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	v, err := humanize.ParseBytes(n.Value)
	if err != nil || v > 1<<62 {
		return fmt.Errorf("%q is not a byte count; use a number such as 5000000 or \"5MB\" (0 turns the check off)", n.Value)
	}
	*b = Bytes(v)
	return nil
}

// MB prints a byte count for messages in MB: 10^6 bytes, as the status
// and the carriers count, not MiB.
func (b Bytes) MB() string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
