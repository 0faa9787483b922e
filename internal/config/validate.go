package config

import (
	"net"
	"slices"
	"strings"
)

// reported says whether a problem was already recorded for key, so a bad
// value is not reported a second time as missing.
func (d *decoder) reported(key string) bool {
	return slices.ContainsFunc(d.problems, func(p Problem) bool {
		return p.Key == key || strings.HasPrefix(p.Key, key+"[")
	})
}

// lineOf returns the line of the first of keys written in the file.
func (d *decoder) lineOf(keys ...string) int {
	for _, k := range keys {
		if l := d.line(k); l > 0 {
			return l
		}
	}
	return 0
}

// crossCheck checks rules that involve more than one key, after defaults.
func (d *decoder) crossCheck(c *Config) {
	d.checkModem(&c.Modem)
	d.checkHealth(&c.Health)
	d.checkRecovery(&c.Recovery)
}

func (d *decoder) checkModem(m *Modem) {
	if m.APN == "" && !d.reported("modem.apn") {
		if d.has("modem.apn") {
			d.addf(d.line("modem.apn"), "modem.apn", "is empty; set your carrier's APN, such as \"internet\"")
		} else {
			d.addf(d.line("modem"), "modem.apn", "is required; add \"modem:\" with \"apn: <your carrier's APN>\", such as \"internet\"")
		}
	}
	if m.PIN != "" && m.PINFile != "" {
		d.addf(d.line("modem.pin"), "modem.pin", "set together with modem.pin_file (line %d); keep only one (pin_file keeps the PIN out of the config)", d.line("modem.pin_file"))
	}
	if m.USBID != "" && m.Device != "auto" {
		d.addf(d.line("modem.usb_id"), "modem.usb_id", "only narrows device: auto, but device is %q; remove one of them", m.Device)
	}
	if m.Interface >= 0 && m.USBID == "" && !d.reported("modem.usb_id") {
		d.addf(d.line("modem.interface"), "modem.interface", "needs modem.usb_id; an interface number means nothing without the vendor:product it belongs to")
	}
}

func (d *decoder) checkHealth(h *Health) {
	if h.Listen == "" {
		d.addf(d.line("health.listen"), "health.listen", "is empty; the health endpoint is required, such as \":9000\"")
	}
	lh, lp, err1 := net.SplitHostPort(h.Listen)
	sh, sp, err2 := net.SplitHostPort(h.StatusListen)
	if err1 == nil && err2 == nil && lp == sp && (lh == sh || isWildcard(lh) || isWildcard(sh)) {
		d.addf(d.lineOf("health.status_listen", "health.listen"), "health.status_listen",
			"%q uses the same port as health.listen %q; use another port, such as 9001", h.StatusListen, h.Listen)
	}
	d.checkProbes(&h.Probes)
}

func (d *decoder) checkProbes(p *Probes) {
	const k = "health.probes."
	if !d.has(k + "quorum") {
		p.Quorum = len(p.Targets)/2 + 1
	} else if p.Quorum > len(p.Targets) {
		d.addf(d.line(k+"quorum"), k+"quorum", "%d is more than the %d targets; use at most %d", p.Quorum, len(p.Targets), len(p.Targets))
	}
	if p.Timeout > p.FailingInterval {
		d.addf(d.lineOf(k+"timeout", k+"failing_interval"), k+"timeout",
			"%s is longer than failing_interval %s; rounds would overlap, use a shorter timeout", dur(p.Timeout), dur(p.FailingInterval))
	}
	if p.FailingInterval > p.Interval {
		d.addf(d.lineOf(k+"failing_interval", k+"interval"), k+"failing_interval",
			"%s is longer than interval %s; while failing failberry probes more often, not less", dur(p.FailingInterval), dur(p.Interval))
	}
	if p.MaxLatency > p.Timeout {
		d.addf(d.lineOf(k+"max_latency", k+"timeout"), k+"max_latency",
			"%s is longer than timeout %s and could never trigger; use at most the timeout", dur(p.MaxLatency), dur(p.Timeout))
	}
	if est := p.EstimatedBytesPerDay(); p.BudgetBytesPerDay > 0 && est > p.BudgetBytesPerDay {
		d.addf(d.lineOf(k+"budget_bytes_per_day", k+"interval", k+"targets", "health.probes"), k+"budget_bytes_per_day",
			"probing %d targets every %s uses about %s a day, over the budget of %s; use a longer interval, fewer targets, or raise the budget",
			len(p.Targets), dur(p.Interval), formatMB(est), formatMB(p.BudgetBytesPerDay))
	}
}

func (d *decoder) checkRecovery(r *Recovery) {
	steps := []struct {
		key string
		s   Step
	}{{"recovery.redial", r.Redial}, {"recovery.modem_reset", r.ModemReset}, {"recovery.power_cycle", r.PowerCycle.Step}}
	for _, st := range steps {
		if st.s.MaxBackoff < st.s.Backoff {
			d.addf(d.lineOf(st.key+".max_backoff", st.key+".backoff"), st.key+".max_backoff",
				"%s is shorter than backoff %s; use at least the backoff", dur(st.s.MaxBackoff), dur(st.s.Backoff))
		}
	}
	pc := r.PowerCycle
	if (pc.Hub == "") != (pc.Port == 0) && !d.reported("recovery.power_cycle.hub") && !d.reported("recovery.power_cycle.port") {
		d.addf(d.lineOf("recovery.power_cycle.hub", "recovery.power_cycle.port"), "recovery.power_cycle",
			"set hub and port together (such as hub \"1-1\", port 2), or neither to find them from the modem's tty")
	}
}
