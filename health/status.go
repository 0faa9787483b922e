package health

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Status is everything `failberry status` and /status show. The daemon fills
// it from its cached state; building it must not wait for a busy main loop.
type Status struct {
	State    string         `json:"state"`
	Since    time.Time      `json:"since"`
	Modem    ModemStatus    `json:"modem"`
	Link     LinkStatus     `json:"link"`
	Ladder   LadderStatus   `json:"ladder"`
	Events   []Event        `json:"events"`
	Firewall FirewallStatus `json:"firewall"`
	Probes   ProbeStats     `json:"probes"`
}

// ModemStatus describes the modem. SignalDBM is nil when unknown.
type ModemStatus struct {
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Operator     string `json:"operator"`
	AccessTech   string `json:"access_tech"`
	SignalDBM    *int   `json:"signal_dbm"`
	Registration string `json:"registration"`
	SIM          string `json:"sim"`
}

// LinkStatus describes the PPP link.
type LinkStatus struct {
	Interface string `json:"interface"`
	Local     string `json:"local"`
	Peer      string `json:"peer"`
	Up        bool   `json:"up"`
	Uptime    string `json:"uptime"`
	BytesIn   uint64 `json:"bytes_in"`
	BytesOut  uint64 `json:"bytes_out"`
}

// LadderStatus describes the recovery ladder. StepsTotal counts the steps
// taken since start, by step name, for the recovery_steps_total metric.
type LadderStatus struct {
	Step       string            `json:"step"`
	Attempt    int               `json:"attempt"`
	StepsTotal map[string]uint64 `json:"steps_total,omitempty"`
}

// Event is one recent state change.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

// FirewallStatus reports whether the NAT/forwarding rules are in place.
type FirewallStatus struct {
	Applied   bool   `json:"applied"`
	LastError string `json:"last_error,omitempty"`
}

// StatusSource provides the current Status.
type StatusSource interface{ Status() Status }

// NewStatusHandler serves GET /status (JSON) and GET /metrics (Prometheus text
// format) and nothing else. It exposes addresses and errors, so bind it to
// loopback or the LAN only, never to the public listener.
func NewStatusHandler(src StatusSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" && r.URL.Path != "/metrics" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var buf bytes.Buffer
		s := src.Status()
		if r.URL.Path == "/status" {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if err := enc.Encode(s); err != nil {
				http.Error(w, "encoding status failed", http.StatusInternalServerError)
				return
			}
		} else {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			WriteMetrics(&buf, s)
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodHead {
			_, _ = w.Write(buf.Bytes())
		}
	})
}

// WriteMetrics writes s in the Prometheus text format. Metrics are derived from
// one Status per scrape rather than kept in global registries, so the handler
// has no shared mutable state.
func WriteMetrics(w io.Writer, s Status) {
	typed := map[string]bool{}
	typeLine := func(name, typ string) {
		if n := metricName(name); !typed[n] {
			typed[n] = true
			fmt.Fprintf(w, "# TYPE %s %s\n", n, typ)
		}
	}
	gauge := func(name string, v float64) { typeLine(name, "gauge"); metrics.WriteGaugeFloat64(w, name, v) }
	counter := func(name string, v uint64) { typeLine(name, "counter"); metrics.WriteCounterUint64(w, name, v) }
	gauge("failberry_link_up", b2f(s.Link.Up))
	if s.Modem.SignalDBM != nil {
		gauge("failberry_signal_dbm", float64(*s.Modem.SignalDBM))
	}
	counter(`failberry_link_bytes_total{direction="in"}`, s.Link.BytesIn)
	counter(`failberry_link_bytes_total{direction="out"}`, s.Link.BytesOut)
	gauge("failberry_path_up", b2f(s.Probes.Healthy))
	gauge("failberry_firewall_applied", b2f(s.Firewall.Applied))
	// All samples of one metric stay together, as the text format requires.
	for _, m := range []struct {
		name string
		v    func(TargetStats) float64
	}{
		{"failberry_probe_ok", func(t TargetStats) float64 { return b2f(t.OK) }},
		{"failberry_probe_rtt_seconds", func(t TargetStats) float64 { return t.LastRTT.Seconds() }},
		{"failberry_probe_loss_ratio", func(t TargetStats) float64 { return t.Loss }},
	} {
		for _, t := range s.Probes.Targets {
			gauge(m.name+`{target="`+escapeLabel(t.Target)+`"}`, m.v(t))
		}
	}
	counter("failberry_probe_rounds_total", s.Probes.Rounds)
	counter("failberry_probe_bytes_total", s.Probes.BytesSpent)
	gauge("failberry_probe_estimated_bytes_per_day", float64(s.Probes.EstimatedBytesPerDay))
	if s.Ladder.Step != "" {
		gauge(`failberry_ladder_step{step="`+escapeLabel(s.Ladder.Step)+`"}`, 1)
	}
	gauge("failberry_ladder_attempt", float64(s.Ladder.Attempt))
	steps := make([]string, 0, len(s.Ladder.StepsTotal))
	for k := range s.Ladder.StepsTotal {
		steps = append(steps, k)
	}
	slices.Sort(steps)
	for _, k := range steps {
		counter(`failberry_recovery_steps_total{step="`+escapeLabel(k)+`"}`, s.Ladder.StepsTotal[k])
	}
}

func metricName(s string) string {
	name, _, _ := strings.Cut(s, "{")
	return name
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// escapeLabel escapes a Prometheus label value: backslash, quote, newline.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// signalWord rates an RSSI in dBm as shown by `failberry status`.
func signalWord(dbm int) string {
	switch {
	case dbm >= -70:
		return "excellent"
	case dbm >= -85:
		return "good"
	case dbm >= -100:
		return "fair"
	default:
		return "poor"
	}
}

// RenderStatus writes the human-readable `failberry status` text: aligned
// "key: value" lines, then the probe targets and the recent events.
func RenderStatus(w io.Writer, s Status) {
	var kv [][2]string
	add := func(k, v string) { kv = append(kv, [2]string{k, v}) }
	state := orDash(s.State)
	if !s.Since.IsZero() {
		state += " since " + s.Since.Format(time.RFC3339)
	}
	add("state", state)
	add("modem", orDash(strings.TrimSpace(s.Modem.Manufacturer+" "+s.Modem.Model)))
	add("operator", orDash(strings.TrimSpace(s.Modem.Operator+" "+s.Modem.AccessTech)))
	sig := "-"
	if s.Modem.SignalDBM != nil {
		sig = fmt.Sprintf("%d dBm (%s)", *s.Modem.SignalDBM, signalWord(*s.Modem.SignalDBM))
	}
	add("signal", sig)
	add("registration", orDash(s.Modem.Registration))
	add("sim", orDash(s.Modem.SIM))
	link := "down"
	if s.Link.Up {
		link = "up"
	}
	if s.Link.Interface != "" {
		link = s.Link.Interface + " " + link
	}
	if s.Link.Uptime != "" {
		link += " for " + s.Link.Uptime
	}
	add("link", link)
	if s.Link.Local != "" || s.Link.Peer != "" {
		add("address", orDash(s.Link.Local)+" peer "+orDash(s.Link.Peer))
	}
	add("traffic", fmt.Sprintf("in %s, out %s", humanBytes(s.Link.BytesIn), humanBytes(s.Link.BytesOut)))
	add("path", fmt.Sprintf("%s (%d rounds, probes used %s, ~%s/day)", orDash(s.Probes.State),
		s.Probes.Rounds, humanBytes(s.Probes.BytesSpent), humanBytes(uint64(max(s.Probes.EstimatedBytesPerDay, 0)))))
	for _, t := range s.Probes.Targets {
		ok := "fail"
		if t.OK {
			ok = "ok"
		}
		add("  "+t.Target, fmt.Sprintf("%s rtt %v loss %.0f%%", ok, t.LastRTT.Round(time.Millisecond), 100*t.Loss))
	}
	ladder := orDash(s.Ladder.Step)
	if s.Ladder.Attempt > 0 {
		ladder += fmt.Sprintf(" (attempt %d)", s.Ladder.Attempt)
	}
	add("recovery", ladder)
	fw := "applied"
	if !s.Firewall.Applied {
		fw = "not applied"
	}
	if s.Firewall.LastError != "" {
		fw += " (last error: " + oneLine(s.Firewall.LastError) + ")"
	}
	add("firewall", fw)
	writeAligned(w, kv)
	if len(s.Events) > 0 {
		fmt.Fprintln(w, "events:")
		for _, e := range s.Events {
			fmt.Fprintf(w, "  %s %s %s\n", e.Time.Format(time.RFC3339), e.Kind, oneLine(e.Message))
		}
	}
}

func writeAligned(w io.Writer, kv [][2]string) {
	width := 0 // indented detail lines (probe targets) do not widen the column
	for _, p := range kv {
		if !strings.HasPrefix(p[0], " ") {
			width = max(width, len(p[0]))
		}
	}
	for _, p := range kv {
		fmt.Fprintf(w, "%-*s %s\n", width+1, p[0]+":", oneLine(p[1]))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
