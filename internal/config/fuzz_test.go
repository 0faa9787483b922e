package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse checks that garbage never panics, that every failure is an
// *Error with problems, and that any accepted config survives Effective.
// Run longer with: go test -fuzz=FuzzParse -fuzztime=30s ./internal/config/
func FuzzParse(f *testing.F) {
	if sample, err := os.ReadFile(samplePath); err == nil {
		f.Add(sample)
	}
	for _, s := range []string{
		"", "modem: {apn: internet}", "modem:\n  apn: internet\n  baud: fast\n",
		"a: &a [*a]", "modem: {apn: &x internet}\nppp: *x\n", "- [1, {2: 3}]",
		"health: {probes: {targets: [\"tcp:[::1]:1\", \"http://x/\"], quorum: 2}}\nmodem: {apn: a}",
		"recovery: {power_cycle: {hub: \"1-1.2\", port: 3}}\nmodem: {apn: a}",
		"modem: {apn: a, pin: \"1234\"}\nfirewall: {allow_sources: [\"::1\"]}",
		"!!binary x", "? [a]\n: b", "modem: !!map {apn: x}", "<<: {a: 1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("error %v is not an *Error with problems", err)
			}
			_ = cerr.Error()
			return
		}
		if c.Modem.PIN != "" {
			return // masked in Effective, so it cannot parse back
		}
		if _, err := Parse("effective.yaml", []byte(c.Effective())); err != nil {
			t.Fatalf("accepted config prints an Effective that fails:\n%s\n%v", c.Effective(), err)
		}
	})
}
