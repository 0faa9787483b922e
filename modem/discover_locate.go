package modem

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNoModemPort is returned (wrapped, together with the context's error) when
// Locate gives up before any matching port answered.
var ErrNoModemPort = errors.New("no modem port answered")

// ErrDiagnosticPort is returned when an explicit device is a known DM/DIAG
// port: sending AT there can wedge the modem, so it is a configuration error.
var ErrDiagnosticPort = errors.New("port is a diagnostics port")

// Selector says which port Locate may use. The zero value means fully
// automatic: every ttyUSB*/ttyACM* that is not a diagnostics, GPS or aux port.
type Selector struct {
	// Device is an explicit device path (e.g. /dev/ttyUSB2 or a
	// /dev/serial/by-id link). When set, VIDPID and Interface are ignored.
	Device string
	// VIDPID restricts automatic mode to one USB model, "19d2:0031".
	VIDPID USBID
	// Interface restricts automatic mode to one bInterfaceNumber; -1 means
	// any. It only applies together with VIDPID (an interface number means
	// nothing without the model), so the zero Selector stays automatic.
	Interface int
}

// Prober reports whether the port at devPath answers AT with OK. The daemon
// passes one built on the AT engine; it must give up when ctx ends.
type Prober func(ctx context.Context, devPath string) bool

// Locate waits until a port matching sel exists and answers probe, polling
// sysfs every poll (default 1s) without logging, and returns it. Automatic
// mode probes modem ports of known modems first, then ports nothing is known
// about, in numeric name order; diagnostics ports are never probed. An
// explicit Device must exist (and answer, if probe is non-nil). A nil probe
// accepts the first matching port. It returns when ctx ends with an error
// wrapping ErrNoModemPort, ctx.Err() and what was seen last.
func Locate(ctx context.Context, sel Selector, sysRoot, devRoot string, probe Prober, poll time.Duration) (TTYCandidate, error) {
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		c, seen, err := locateOnce(ctx, sel, sysRoot, devRoot, probe)
		if err != nil || seen == "" {
			return c, err
		}
		select {
		case <-ctx.Done():
			return TTYCandidate{}, fmt.Errorf("locate modem: %w (%w); last seen: %s", ErrNoModemPort, ctx.Err(), seen)
		case <-t.C:
		}
	}
}

// locateOnce makes one pass. It returns the port found, or a non-empty
// description of what it saw when it should try again, or a fatal error.
func locateOnce(ctx context.Context, sel Selector, sysRoot, devRoot string, probe Prober) (TTYCandidate, string, error) {
	if sel.Device != "" {
		return locateExplicit(ctx, sel.Device, sysRoot, devRoot, probe)
	}
	all, err := Candidates(sysRoot, devRoot)
	if err != nil {
		return TTYCandidate{}, "", fmt.Errorf("locate modem: %w", err)
	}
	cands, skipped := filterCandidates(all, sel)
	for _, c := range cands {
		if !sysfsExists(c.DevPath) {
			skipped = append(skipped, c.Name+": no device node yet")
			continue
		}
		if probe == nil || probe(ctx, c.DevPath) {
			return c, "", nil
		}
		skipped = append(skipped, c.Name+": no answer to AT")
	}
	if len(skipped) == 0 {
		return TTYCandidate{}, "no USB serial ports", nil
	}
	return TTYCandidate{}, strings.Join(skipped, "; "), nil
}

// filterCandidates keeps the ports sel allows, best first, and describes the rest.
func filterCandidates(all []TTYCandidate, sel Selector) (keep []TTYCandidate, skipped []string) {
	vidpid := strings.ToLower(strings.TrimSpace(string(sel.VIDPID)))
	for _, c := range all {
		switch {
		case c.VID == "" || c.Interface < 0:
			skipped = append(skipped, c.Name+": "+c.Why)
		case vidpid != "" && c.VID+":"+c.PID != vidpid:
			// another device: not worth mentioning
		case vidpid != "" && sel.Interface >= 0 && c.Interface != sel.Interface:
		case c.Diagnostic:
			skipped = append(skipped, c.Name+": diagnostics port")
		case c.Role == RoleNMEA || c.Role == RoleAux || (c.Role == RoleAT && !(vidpid != "" && sel.Interface >= 0)):
			skipped = append(skipped, fmt.Sprintf("%s: %s port", c.Name, c.Role))
		default:
			keep = append(keep, c)
		}
	}
	sort.SliceStable(keep, func(i, j int) bool { return portRank(keep[i]) < portRank(keep[j]) })
	return keep, skipped
}

func portRank(c TTYCandidate) int {
	switch c.Role {
	case RoleModem:
		return 0
	case RoleAT:
		return 1
	}
	return 2
}

// locateExplicit checks a configured device: it must exist, must not be a
// known diagnostics port, and must answer the probe.
func locateExplicit(ctx context.Context, dev, sysRoot, devRoot string, probe Prober) (TTYCandidate, string, error) {
	target, err := filepath.EvalSymlinks(dev)
	if err != nil {
		return TTYCandidate{}, fmt.Sprintf("%s: %v", dev, err), nil
	}
	c := TTYCandidate{Name: filepath.Base(target), DevPath: dev, Interface: -1, Why: "configured explicitly"}
	if all, err := Candidates(sysRoot, devRoot); err == nil {
		for _, a := range all {
			if a.Name == c.Name {
				c, c.DevPath = a, dev
			}
		}
	}
	if c.Diagnostic {
		return c, "", fmt.Errorf("locate modem: %s (%s): %w: %s", dev, c.Name, ErrDiagnosticPort, c.Why)
	}
	if probe != nil && !probe(ctx, dev) {
		return TTYCandidate{}, dev + ": no answer to AT", nil
	}
	return c, "", nil
}
