package health

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/failberry/failberry/internal/ddns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
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
	Inbound  InboundStatus  `json:"inbound"`
	Data     *DataStatus    `json:"data,omitempty"` // nil: no meter
	Route    RouteStatus    `json:"route"`
}

// RouteStatus says how the Pi's traffic is routed.
type RouteStatus struct {
	// Mode is route.mode: replace, metric or split.
	Mode string `json:"mode"`
	// OwnTraffic is where the Pi's own traffic leaves in split mode, "wired"
	// or "cellular"; empty in the other modes, where it follows the
	// default route.
	OwnTraffic string `json:"own_traffic,omitempty"`
	// Wired is the primary path's probes in split and gateway mode.
	Wired *ProbeStats `json:"wired,omitempty"`
	// Uplink is gateway mode's decision; nil in the other modes.
	Uplink *UplinkStatus `json:"uplink,omitempty"`
}

// UplinkStatus is which uplink carries the LAN's traffic in gateway mode.
type UplinkStatus struct {
	// Active is "primary" or "cellular", since Since.
	Active string    `json:"active"`
	Since  time.Time `json:"since"`
	// BackAt is when traffic moves back to the primary if it keeps passing
	// its probes (the hold); absent while it fails or traffic is on it.
	BackAt *time.Time `json:"back_at,omitempty"`
	// DrillUntil is a running drill's end.
	DrillUntil *time.Time `json:"drill_until,omitempty"`
}

// InboundStatus says whether the internet can reach the house over the
// cellular link, and what DNS publishes for it.
type InboundStatus struct {
	// Address is the cellular IPv4 address; empty while the link is down.
	Address string `json:"address,omitempty"`
	// CarrierNAT is true when Address is carrier-grade NAT or private:
	// nothing from the internet can reach it (see CarrierNATAdvice).
	CarrierNAT bool `json:"carrier_nat"`
	// StickNAT is true when Address is a network-card stick's private
	// address behind its own router: a double NAT (see StickNATAdvice).
	// CarrierNAT is then true as well: the internet sees only the stick.
	StickNAT bool `json:"stick_nat,omitempty"`
	// DNS is the published name's state; nil without a dns provider.
	DNS *ddns.Status `json:"dns,omitempty"`
}

// CarrierNATAdvice is what to do about an address behind carrier NAT, in the
// words the journal event and the status both use.
const CarrierNATAdvice = "nothing from the internet can reach the Pi or the house over cellular " +
	"(the Route 53 check of the cellular address fails, a VPN cannot follow the DNS record); " +
	"ask the carrier for a public address, often a different APN (the FailberryPi's was \"direct\"), " +
	"or use IPv6 (modem.pdp_type: IPV4V6) where the carrier offers it"

// StickNATAdvice is what to do about a network-card stick's private address,
// in the words the journal event and the status both use.
const StickNATAdvice = "the stick is a router with its own NAT in front of the Pi (double NAT): " +
	"inbound traffic (the Route 53 check, port forwards, a VPN) needs the stick's own DMZ or port forwarding " +
	"set to this address in its web interface, and the carrier's address must be public as well"

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

// LadderIdle is LadderStatus.Step while no recovery attempt runs: the link is
// up, or the daemon has not failed yet.
const LadderIdle = "idle"

// LadderStatus describes the recovery ladder. Step is the step being tried, or
// LadderIdle (with Attempt 0) while no recovery attempt runs. StepsTotal counts
// the steps taken since start, by step name, for the recovery_steps_total
// metric; the daemon lists every step of its ladder there, taken or not, and
// the ladder_step metric exports a sample for each of them.
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
	// A registry of its own, not the global one: the handler exports exactly
	// the daemon's metrics, and two handlers (tests, a future second listener)
	// never collide on registration.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(statusCollector{src})
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
		if r.URL.Path == "/status" {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if err := enc.Encode(src.Status()); err != nil {
				http.Error(w, "encoding status failed", http.StatusInternalServerError)
				return
			}
		} else {
			if err := writeMetrics(&buf, reg); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", string(metricsFormat))
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodHead {
			_, _ = w.Write(buf.Bytes())
		}
	})
}

// metricsFormat is the Prometheus text exposition format, version 0.0.4,
// which every scraper reads.
var metricsFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// writeMetrics gathers reg and writes it in the text format. An error (a
// metric the registry refuses, such as a label value that is not UTF-8) fails
// the whole scrape, as promhttp does by default: a scraper then sees the
// problem instead of a silently missing series.
func writeMetrics(w io.Writer, reg prometheus.Gatherer) error {
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("gathering metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, metricsFormat)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encoding metric %s: %w", mf.GetName(), err)
		}
	}
	return nil
}

// The metrics, with their help text. Each is derived from the one Status
// read per scrape, so nothing is kept in counters of its own that could
// drift from what `failberry status` shows.
var (
	descLinkUp = prometheus.NewDesc("failberry_link_up",
		"Whether the cellular PPP link is up with an address (1) or not (0).", nil, nil)
	descSignal = prometheus.NewDesc("failberry_signal_dbm",
		"Signal strength the modem reports (AT+CSQ), in dBm; absent while unknown.", nil, nil)
	descLinkBytes = prometheus.NewDesc("failberry_link_bytes_total",
		"Bytes through the PPP interface by direction (in, out); starts again from 0 when the interface is recreated.",
		[]string{"direction"}, nil)
	descPathUp = prometheus.NewDesc("failberry_path_up",
		"Whether the probes over the cellular link pass, so the path works end to end (1) or not (0); what /cellular answers.", nil, nil)
	descFirewall = prometheus.NewDesc("failberry_firewall_applied",
		"Whether the NAT, forwarding and inbound rules are in place (1) or not (0).", nil, nil)
	descProbeOK = prometheus.NewDesc("failberry_probe_ok",
		"Whether the last probe of a target got an answer (1) or not (0).", []string{"target"}, nil)
	descProbeRTT = prometheus.NewDesc("failberry_probe_rtt_seconds",
		"Round-trip time of the last answered probe of a target, in seconds.", []string{"target"}, nil)
	descProbeLoss = prometheus.NewDesc("failberry_probe_loss_ratio",
		"Share of a target's recent probes that got no answer, from 0 to 1.", []string{"target"}, nil)
	descProbeRounds = prometheus.NewDesc("failberry_probe_rounds_total",
		"Probe rounds run over the cellular link.", nil, nil)
	descProbeBytes = prometheus.NewDesc("failberry_probe_bytes_total",
		"Bytes the probes have sent and received on the metered cellular link, as measured per probe (IP headers and 8 bytes of PPP framing a packet included).", nil, nil)
	descProbeBytesPerDay = prometheus.NewDesc("failberry_probe_estimated_bytes_per_day",
		"Bytes a day the probes use on a quiet link at their interval, from each target's measured cost.", nil, nil)
	descLadderStep = prometheus.NewDesc("failberry_ladder_step",
		"1 for the recovery ladder step being tried, 0 for every other step; all 0 while no recovery attempt runs.",
		[]string{"step"}, nil)
	descLadderAttempt = prometheus.NewDesc("failberry_ladder_attempt",
		"Attempt number of the recovery step being tried; 0 while no recovery attempt runs.", nil, nil)
	descRecoverySteps = prometheus.NewDesc("failberry_recovery_steps_total",
		"Recovery steps taken since the daemon started, by step.", []string{"step"}, nil)
	descOwnCellular = prometheus.NewDesc("failberry_own_traffic_cellular",
		"1 while the Pi's own traffic leaves over cellular in split mode (the wired path fails), 0 while it leaves wired.", nil, nil)
	descUplink = prometheus.NewDesc("failberry_active_uplink",
		"1 for the uplink that carries the LAN's traffic in gateway mode (primary or cellular), 0 for the other.", []string{"uplink"}, nil)
	descDrill = prometheus.NewDesc("failberry_drill_running", "1 while an outage drill makes the primary look down (gateway mode).", nil, nil)
)

// statusCollector exports one Status per scrape, as node_exporter's
// collectors do with const metrics: the handler holds no mutable state.
type statusCollector struct{ src StatusSource }

func (statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLinkUp, descSignal, descLinkBytes, descPathUp, descFirewall,
		descProbeOK, descProbeRTT, descProbeLoss, descProbeRounds, descProbeBytes, descProbeBytesPerDay,
		descLadderStep, descLadderAttempt, descRecoverySteps, descOwnCellular, descUplink, descDrill} {
		ch <- d
	}
	for _, d := range dataDescs {
		ch <- d
	}
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Status()
	// NewConstMetric refuses label values that are not UTF-8; the invalid
	// metric carries that error to Gather instead of panicking in a handler.
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
	emit(descLinkUp, prometheus.GaugeValue, b2f(s.Link.Up))
	if s.Modem.SignalDBM != nil {
		emit(descSignal, prometheus.GaugeValue, float64(*s.Modem.SignalDBM))
	}
	emit(descLinkBytes, prometheus.CounterValue, float64(s.Link.BytesIn), "in")
	emit(descLinkBytes, prometheus.CounterValue, float64(s.Link.BytesOut), "out")
	emit(descPathUp, prometheus.GaugeValue, b2f(s.Probes.Healthy))
	emit(descFirewall, prometheus.GaugeValue, b2f(s.Firewall.Applied))
	for _, t := range s.Probes.Targets {
		emit(descProbeOK, prometheus.GaugeValue, b2f(t.OK), t.Target)
		emit(descProbeRTT, prometheus.GaugeValue, t.LastRTT.Seconds(), t.Target)
		emit(descProbeLoss, prometheus.GaugeValue, t.Loss, t.Target)
	}
	emit(descProbeRounds, prometheus.CounterValue, float64(s.Probes.Rounds))
	emit(descProbeBytes, prometheus.CounterValue, float64(s.Probes.BytesSpent))
	emit(descProbeBytesPerDay, prometheus.GaugeValue, float64(s.Probes.EstimatedBytesPerDay))
	// Every step the ladder knows (the keys of StepsTotal) gets a sample, so a
	// query sees the step change from 1 to 0 rather than a series vanishing.
	steps := slices.Collect(maps.Keys(s.Ladder.StepsTotal))
	if s.Ladder.Step != "" && s.Ladder.Step != LadderIdle && !slices.Contains(steps, s.Ladder.Step) {
		steps = append(steps, s.Ladder.Step)
	}
	for _, step := range steps {
		emit(descLadderStep, prometheus.GaugeValue, b2f(step == s.Ladder.Step), step)
	}
	emit(descLadderAttempt, prometheus.GaugeValue, float64(s.Ladder.Attempt))
	for step, n := range s.Ladder.StepsTotal {
		emit(descRecoverySteps, prometheus.CounterValue, float64(n), step)
	}
	collectData(s.Data, emit)
	if s.Route.OwnTraffic != "" {
		emit(descOwnCellular, prometheus.GaugeValue, b2f(s.Route.OwnTraffic == "cellular"))
	}
	if u := s.Route.Uplink; u != nil {
		for _, name := range []string{"primary", "cellular"} {
			emit(descUplink, prometheus.GaugeValue, b2f(u.Active == name), name)
		}
		emit(descDrill, prometheus.GaugeValue, b2f(u.DrillUntil != nil))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
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
	add("path", fmt.Sprintf("%s (%d rounds, %d skipped for traffic, probes used %s, ~%s/day)", orDash(s.Probes.State),
		s.Probes.Rounds, s.Probes.Skipped, humanBytes(s.Probes.BytesSpent), humanBytes(uint64(max(s.Probes.EstimatedBytesPerDay, 0)))))
	for _, t := range s.Probes.Targets {
		ok := "fail"
		if t.OK {
			ok = "ok"
		}
		add("  "+t.Target, fmt.Sprintf("%s rtt %v loss %.0f%%", ok, t.LastRTT.Round(time.Millisecond), 100*t.Loss))
	}
	if r := s.Route; r.OwnTraffic != "" {
		wired := "-"
		if r.Wired != nil {
			wired = r.Wired.State
		}
		if r.Uplink == nil {
			add("own traffic", fmt.Sprintf("%s (split mode; wired path %s)", r.OwnTraffic, wired))
		}
	}
	if u := s.Route.Uplink; u != nil {
		add("uplink", uplinkLine(u, s.Route.Wired))
		if s.Route.Wired != nil {
			for _, t := range s.Route.Wired.Targets {
				ok := "fail"
				if t.OK {
					ok = "ok"
				}
				add("  primary "+t.Target, fmt.Sprintf("%s rtt %v loss %.0f%%", ok, t.LastRTT.Round(time.Millisecond), 100*t.Loss))
			}
		}
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
	if in := s.Inbound; in.Address != "" {
		reach := "reachable at " + in.Address
		switch {
		case in.StickNAT:
			reach = "needs the stick's DMZ: " + in.Address + " is behind the stick's NAT; " + StickNATAdvice
		case in.CarrierNAT:
			reach = "blocked: " + in.Address + " is behind the carrier's NAT; " + CarrierNATAdvice
		}
		add("inbound", reach)
	}
	if dns := s.Inbound.DNS; dns != nil {
		for _, r := range dns.Records {
			line := fmt.Sprintf("%s %s %s: %s", dns.Name, r.Type, orDash(addrText(r.Published)), r.Result)
			if !r.ResultAt.IsZero() {
				line += " at " + r.ResultAt.Format(time.RFC3339)
			}
			add("dns", line)
		}
	}
	renderData(s.Data, add)
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
	const unit = 1000 // kB, MB: 10^3, 10^6, as the config's byte counts and the carriers'
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// uplinkLine is gateway mode's status line: "cellular since 10:42:07 (drill
// until 10:44:07; primary passing, back at 10:45:07)".
func uplinkLine(u *UplinkStatus, primary *ProbeStats) string {
	line := u.Active + " since " + u.Since.Local().Format(time.TimeOnly)
	var notes []string
	if u.DrillUntil != nil {
		notes = append(notes, "drill until "+u.DrillUntil.Local().Format(time.TimeOnly))
	}
	if primary != nil {
		notes = append(notes, "primary "+primary.State)
	}
	if u.BackAt != nil {
		notes = append(notes, "back at "+u.BackAt.Local().Format(time.TimeOnly))
	}
	if len(notes) > 0 {
		line += " (" + strings.Join(notes, "; ") + ")"
	}
	return line
}
