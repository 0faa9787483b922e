//go:build bench

package bench_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/modem/sim"
)

// portLines extracts "Port N: XXXX" (status word) from uhubctl-style output
// for hub 1-1.
func portLines(out string) []string {
	var lines []string
	inHub := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Current status for hub") {
			inHub = strings.Contains(l, "hub 1-1 ")
			continue
		}
		if m := regexp.MustCompile(`^\s+(Port \d+: .*)$`).FindStringSubmatch(l); inHub && m != nil {
			lines = append(lines, strings.TrimSpace(m[1]))
		}
	}
	return lines
}

func TestUSBStatusAgreesWithUhubctl(t *testing.T) {
	ctx, vm := startVM(t, sim.Config{})
	waitGuest(t, ctx, vm, 20*time.Second, `test -c /dev/ttyUSB0`)
	check := func(when string) {
		ours := guest(t, ctx, vm, 20*time.Second, `/mnt/bin/failberry usb status --hub 1-1`)
		theirs := guest(t, ctx, vm, 20*time.Second, `uhubctl -l 1-1`)
		a, b := portLines(ours), portLines(theirs)
		if len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("%s: failberry usb status and uhubctl disagree:\n--- failberry\n%s\n--- uhubctl\n%s", when, ours, theirs)
		}
		t.Logf("%s:\n%s", when, ours)
	}
	check("modem powered")
	guest(t, ctx, vm, 20*time.Second, `/mnt/bin/failberry usb off --tty /dev/ttyUSB0`)
	waitGuest(t, ctx, vm, 15*time.Second, `! test -e /dev/ttyUSB0`)
	check("modem port off")
	guest(t, ctx, vm, 20*time.Second, `/mnt/bin/failberry usb on --hub 1-1 --port 2`)
	waitGuest(t, ctx, vm, 15*time.Second, `test -c /dev/ttyUSB0`)
	check("modem port on again")
	if n := powerOffs(t, vm); n != 1 {
		t.Errorf("want one ClearPortFeature(PORT_POWER) on port 2, saw %d", n)
	}
}
