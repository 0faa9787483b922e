package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// traceEvent is one port-feature request qemu's emulated usb-hub logged.
type traceEvent struct {
	set     bool // SetPortFeature (else ClearPortFeature)
	port    int
	feature string // qemu's name: "power", "reset", ...
}

// traceRe matches qemu's usb-hub trace events, in qemu 7.2 (hw/usb/trace-events):
//
//	usb_hub_clear_port_feature dev 2, port 1, feature power
//
// with whatever prefix the log backend adds ("12345@1700000000.123456:").
var traceRe = regexp.MustCompile(`usb_hub_(set|clear)_port_feature\b.*?\bport (\d+), feature ([\w-]+)`)

// parseTraceLine extracts a port-feature event from one trace log line.
func parseTraceLine(line string) (traceEvent, bool) {
	sub := traceRe.FindStringSubmatch(line)
	if sub == nil {
		return traceEvent{}, false
	}
	port, err := strconv.Atoi(sub[2])
	if err != nil {
		return traceEvent{}, false
	}
	return traceEvent{set: sub[1] == "set", port: port, feature: strings.ToLower(sub[3])}, true
}

// isPower reports whether a feature name is PORT_POWER, in qemu's spelling
// ("power") or the USB spec's.
func isPower(feature string) bool {
	return feature == "power" || feature == "port_power"
}

// FollowQemuTrace tails the qemu trace log at path (written with
// -trace usb_hub_clear_port_feature -trace usb_hub_set_port_feature -D path)
// and powers m off when the guest clears PORT_POWER on hubPort, and on
// again when it sets it. It reads the file from the beginning (qemu
// truncates it at start), waits for it to appear, starts over if it shrinks,
// and returns nil when ctx ends. Any emulated hub's port hubPort matches.
func FollowQemuTrace(ctx context.Context, path string, hubPort int, m *Modem) error {
	const poll = 100 * time.Millisecond
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var r *bufio.Reader
	var offset int64
	var partial string
	for {
		if f == nil {
			var err error
			f, err = os.Open(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("following qemu trace: %w", err)
			}
			if f != nil {
				r, offset, partial = bufio.NewReader(f), 0, ""
			}
		}
		if f != nil {
			line, err := r.ReadString('\n')
			offset += int64(len(line))
			if err == nil {
				applyTraceLine(partial+line, hubPort, m)
				partial = ""
				continue
			}
			partial += line
			if !errors.Is(err, io.EOF) {
				return fmt.Errorf("reading qemu trace %s: %w", path, err)
			}
			if st, err := os.Stat(path); err != nil || st.Size() < offset {
				f.Close() // rotated or truncated: start over
				f = nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

// applyTraceLine powers m off or on for a PORT_POWER event on hubPort.
func applyTraceLine(line string, hubPort int, m *Modem) {
	ev, ok := parseTraceLine(line)
	if !ok || ev.port != hubPort || !isPower(ev.feature) {
		return
	}
	if ev.set {
		m.PowerOn() // does nothing unless the power was off
	} else {
		m.PowerOff()
	}
}
