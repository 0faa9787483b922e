package health

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DataStatus is the data meter's part of the status: the billing period's
// bytes, the cap's state and the days of the period.
type DataStatus struct {
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	BytesIn     uint64    `json:"bytes_in"`
	BytesOut    uint64    `json:"bytes_out"`
	// BytesOwn is the Pi's own share of BytesIn+BytesOut (its updates, DNS,
	// probes, the health port); the rest was forwarded for the LAN. The
	// share is read from the firewall once a minute, the totals from the
	// link every second: for up to a minute the forwarded figure includes
	// the newest own bytes.
	BytesOwn uint64 `json:"bytes_own"`
	// Cap is the period's allowance (in plus out); 0: none.
	Cap int64 `json:"cap,omitempty"`
	// WarnAt are the warning fractions; Warned those given this period.
	WarnAt []float64 `json:"warn_at,omitempty"`
	Warned []float64 `json:"warned,omitempty"`
	// CapReached is 100 % this period; Enforced the firewall action in
	// force because of it ("allowlist", "block"), empty when none.
	CapReached bool   `json:"cap_reached"`
	Enforced   string `json:"enforced,omitempty"`
	// Today is today's bytes (local time); Days the period's recent days,
	// oldest first, today last when it has any.
	Today DataDay   `json:"today"`
	Days  []DataDay `json:"days"`
}

// DataDay is one day's bytes over the cellular link; HealthIn is the part
// that came in to the health port (the cost of being checked), BytesOwn the
// Pi's own part (see DataStatus).
type DataDay struct {
	Date     string `json:"date"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	HealthIn uint64 `json:"health_in"`
	BytesOwn uint64 `json:"bytes_own"`
}

// Forwarded is what the day's traffic was not the Pi's own.
func (d DataDay) Forwarded() uint64 { return forwarded(d.BytesIn+d.BytesOut, d.BytesOwn) }

// Forwarded is what the period's traffic was not the Pi's own.
func (d *DataStatus) Forwarded() uint64 { return forwarded(d.BytesIn+d.BytesOut, d.BytesOwn) }

// forwarded: the own share is read less often than the total, so it may
// briefly exceed what the total shows; never below zero.
func forwarded(total, own uint64) uint64 {
	if own > total {
		return 0
	}
	return total - own
}

var (
	descDataPeriod = prometheus.NewDesc("failberry_data_period_bytes",
		"Bytes over the cellular link in the current billing period, by direction; 0 again when a period starts or after `failberry data reset`.",
		[]string{"direction"}, nil)
	descDataToday = prometheus.NewDesc("failberry_data_today_bytes",
		"Bytes over the cellular link today (local time), by direction.", []string{"direction"}, nil)
	descDataOwn = prometheus.NewDesc("failberry_data_period_own_bytes",
		"The Pi's own share of failberry_data_period_bytes (in and out): its updates, DNS, probes and health checks; the rest was forwarded for the LAN.", nil, nil)
	descHealthToday = prometheus.NewDesc("failberry_health_port_today_bytes",
		"Bytes that came in over the cellular link to the health port today: the cost of being checked.", nil, nil)
	descDataCap = prometheus.NewDesc("failberry_data_cap_bytes",
		"The billing period's cap (meter.cap); absent without one.", nil, nil)
	descDataWarning = prometheus.NewDesc("failberry_data_cap_warning",
		"1 once the period's use passed this fraction of the cap (each warned once per period), else 0.", []string{"fraction"}, nil)
	descDataCapReached = prometheus.NewDesc("failberry_data_cap_reached",
		"1 once the period's use reached the cap, else 0.", nil, nil)
	descDataEnforced = prometheus.NewDesc("failberry_data_cap_enforced",
		"1 while the cap's firewall action (allowlist or block) is in force, else 0.", nil, nil)
)

var dataDescs = []*prometheus.Desc{descDataPeriod, descDataToday, descDataOwn, descHealthToday, descDataCap, descDataWarning,
	descDataCapReached, descDataEnforced}

// collectData exports d (nil: no meter, no samples).
func collectData(d *DataStatus, emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
	if d == nil {
		return
	}
	emit(descDataPeriod, prometheus.GaugeValue, float64(d.BytesIn), "in")
	emit(descDataPeriod, prometheus.GaugeValue, float64(d.BytesOut), "out")
	emit(descDataToday, prometheus.GaugeValue, float64(d.Today.BytesIn), "in")
	emit(descDataToday, prometheus.GaugeValue, float64(d.Today.BytesOut), "out")
	emit(descDataOwn, prometheus.GaugeValue, float64(d.BytesOwn))
	emit(descHealthToday, prometheus.GaugeValue, float64(d.Today.HealthIn))
	if d.Cap <= 0 {
		return
	}
	emit(descDataCap, prometheus.GaugeValue, float64(d.Cap))
	for _, f := range d.WarnAt {
		warned := false
		for _, w := range d.Warned {
			warned = warned || w == f
		}
		emit(descDataWarning, prometheus.GaugeValue, b2f(warned), strconv.FormatFloat(f, 'g', -1, 64))
	}
	emit(descDataCapReached, prometheus.GaugeValue, b2f(d.CapReached))
	emit(descDataEnforced, prometheus.GaugeValue, b2f(d.Enforced != ""))
}

// renderData adds the meter's lines to `failberry status`.
func renderData(d *DataStatus, add func(k, v string)) {
	if d == nil {
		return
	}
	period := fmt.Sprintf("in %s, out %s since %s (until %s)", humanBytes(d.BytesIn), humanBytes(d.BytesOut),
		d.PeriodStart.Format(time.DateOnly), d.PeriodEnd.Format(time.DateOnly))
	if d.Cap > 0 {
		period += fmt.Sprintf(", %.1f%% of the cap %s", 100*float64(d.BytesIn+d.BytesOut)/float64(d.Cap), humanBytes(uint64(d.Cap)))
	}
	add("data", period)
	add("  of which", fmt.Sprintf("forwarded for the LAN %s, the Pi's own %s", humanBytes(d.Forwarded()), humanBytes(d.BytesOwn)))
	if d.CapReached {
		action := "warned only"
		if d.Enforced != "" {
			action = d.Enforced + " in force until the next period or `failberry data reset`"
		}
		add("cap", "reached: "+action)
	}
	for _, day := range d.Days[max(0, len(d.Days)-7):] {
		add("  "+day.Date, fmt.Sprintf("in %s, out %s: forwarded %s, the Pi's own %s (health port in %s)",
			humanBytes(day.BytesIn), humanBytes(day.BytesOut), humanBytes(day.Forwarded()), humanBytes(day.BytesOwn), humanBytes(day.HealthIn)))
	}
}
