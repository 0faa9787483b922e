package config

import (
	"errors"
	"net"
	"slices"
	"strings"
)

// lineOf returns the line of the first of keys written in the file, or 0.
func (d *decoder) lineOf(keys ...string) int {
	for _, k := range keys {
		if l := d.lines[k]; l > 0 {
			return l
		}
	}
	return 0
}

// near returns the line of key, else of the first key written under it,
// else the same for its closest parent: where a problem found after the
// walk (by a Check) should point.
func (d *decoder) near(key string) int {
	for ; key != ""; key = key[:max(strings.LastIndexAny(key, ".["), 0)] {
		first := d.lines[key]
		for k, l := range d.lines {
			if (strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[")) && (first == 0 || l < first) {
				first = l
			}
		}
		if first > 0 {
			return first
		}
	}
	return 0
}

// reported says whether a problem was already recorded for key, so a bad
// value (left at its default) is not reported a second time as missing.
func (d *decoder) reported(key string) bool {
	return slices.ContainsFunc(d.problems, func(p Problem) bool { return p.Key == key || strings.HasPrefix(p.Key, key+"[") })
}

// crossCheck checks the rules that involve more than one key, after every
// value passed its own check and the defaults filled the rest.
func (d *decoder) crossCheck(c *Config, checks []Check) {
	m := c.Modem
	switch {
	case m.APN != "" || d.reported("modem.apn") || m.Kind == "netcard":
	case d.lines["modem.apn"] > 0:
		d.addf(d.lines["modem.apn"], "modem.apn", "is empty; set your carrier's APN, such as \"internet\"")
	default:
		d.addf(d.lines["modem"], "modem.apn", "is required; add \"modem:\" with \"apn: <your carrier's APN>\", such as \"internet\"")
	}
	if m.PIN != "" && m.PINFile != "" {
		d.addf(d.lines["modem.pin"], "modem.pin", "set together with modem.pin_file (line %d); keep only one (pin_file keeps the PIN out of the config)", d.lines["modem.pin_file"])
	}
	if m.USBID != "" && m.Device != "auto" {
		d.addf(d.lines["modem.usb_id"], "modem.usb_id", "only narrows device: auto, but device is %q; remove one of them", m.Device)
	}
	if strings.HasSuffix(m.NetcardInterface, "+") || strings.HasPrefix(m.NetcardInterface, "ppp") {
		d.addf(d.lines["modem.netcard_interface"], "modem.netcard_interface",
			"%q is a pattern or a pppd name; name one interface that is not ppp*, such as cell0", m.NetcardInterface)
	}
	if m.Interface >= 0 && m.USBID == "" && !d.reported("modem.usb_id") {
		d.addf(d.lines["modem.interface"], "modem.interface", "needs modem.usb_id; an interface number means nothing without the vendor:product it belongs to")
	}

	h := c.Health
	if h.Listen == "" {
		d.addf(d.lines["health.listen"], "health.listen", "is empty; the health endpoint is required, such as \":9000\"")
	}
	lh, lp, err1 := net.SplitHostPort(h.Listen)
	sh, sp, err2 := net.SplitHostPort(h.StatusListen)
	if err1 == nil && err2 == nil && lp == sp && (lh == sh || isWildcard(lh) || isWildcard(sh)) {
		d.addf(d.lineOf("health.status_listen", "health.listen"), "health.status_listen",
			"%q uses the same port as health.listen %q; use another port, such as 9001", h.StatusListen, h.Listen)
	}

	const k = "health.probes."
	p := &c.Health.Probes
	if d.lines[k+"quorum"] == 0 {
		p.Quorum = len(p.Targets)/2 + 1
	} else if p.Quorum > len(p.Targets) {
		d.addf(d.lines[k+"quorum"], k+"quorum", "%d is more than the %d targets; use at most %d", p.Quorum, len(p.Targets), len(p.Targets))
	}
	if p.Timeout > p.FailingInterval {
		d.addf(d.lineOf(k+"timeout", k+"failing_interval"), k+"timeout",
			"%s is longer than failing_interval %s; rounds would overlap, use a shorter timeout", p.Timeout, p.FailingInterval)
	}
	if p.FailingInterval > p.Interval {
		d.addf(d.lineOf(k+"failing_interval", k+"interval"), k+"failing_interval",
			"%s is longer than interval %s; while failing failberry probes more often, not less", p.FailingInterval, p.Interval)
	}
	if p.MaxLatency > p.Timeout {
		d.addf(d.lineOf(k+"max_latency", k+"timeout"), k+"max_latency",
			"%s is longer than timeout %s and could never trigger; use at most the timeout", p.MaxLatency, p.Timeout)
	}

	for _, check := range append([]Check{func(c Config) error { return c.DNS.Check() }}, checks...) {
		var keyed interface{ ConfigKey() (string, string) }
		switch err := check(*c); {
		case errors.As(err, &keyed):
			if key, msg := keyed.ConfigKey(); !d.reported(key) {
				d.addf(d.near(key), key, "%s", msg)
			}
		case err != nil:
			d.addf(0, "", "%v", err)
		}
	}

	r := c.Recovery
	for i, b := range []Budget{r.Redial, r.ModemReset, r.PowerCycle.Budget} {
		key := []string{"recovery.redial", "recovery.modem_reset", "recovery.power_cycle"}[i]
		if b.MaxBackoff < b.Backoff {
			d.addf(d.lineOf(key+".max_backoff", key+".backoff"), key+".max_backoff",
				"%s is shorter than backoff %s; use at least the backoff", b.MaxBackoff, b.Backoff)
		}
	}
	if pc := r.PowerCycle; (pc.Hub == "") != (pc.Port == 0) && !d.reported("recovery.power_cycle.hub") && !d.reported("recovery.power_cycle.port") {
		d.addf(d.lineOf("recovery.power_cycle.hub", "recovery.power_cycle.port"), "recovery.power_cycle",
			"set hub and port together (such as hub \"1-1\", port 2), or neither to find them from the modem's tty")
	}
}
