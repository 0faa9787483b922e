package sim

import (
	"log/slog"
	"time"
)

// Config describes the simulated modem and its SIM. The zero value is a
// usable, unlocked "Bench Mobile" ZTE MF180 that boots in 2 s and registers
// 1 s later; durations use 0 for "the default" and a negative value for
// "immediately", so tests can run without real waiting.
type Config struct {
	// BootDelay is how long the modem stays silent after power returns or
	// AT+CFUN=1,1 (default 2s), like a real stick re-enumerating.
	BootDelay time.Duration
	// RegistrationDelay runs from the moment the SIM is ready and the radio is
	// on until the modem reports itself registered (default 1s).
	RegistrationDelay time.Duration
	// SlowRegistrationDelay replaces RegistrationDelay while
	// FaultSlowRegistration lasts (default 20s).
	SlowRegistrationDelay time.Duration
	// PIN locks the SIM when not empty; PUK unlocks it after three wrong PINs
	// (default "12345678").
	PIN, PUK string
	// Roaming makes the modem register as roaming (stat 5) instead of home (1).
	Roaming bool
	// Operator is the network name in AT+COPS? (default "Bench Mobile").
	Operator string
	// AcT is the access technology in AT+COPS? (default 2, UTRAN).
	AcT int
	// RSSI is the AT+CSQ signal quality, 1..31 (0: the default 20; out of
	// range: 99, unknown).
	RSSI int
	// URCMeanInterval is the mean of the exponential gaps between random
	// unsolicited lines (RING, +CREG:, ^RSSI:, ^BOOT:); 0 disables them.
	URCMeanInterval time.Duration
	// Seed makes URC timing and garbage bytes reproducible.
	Seed int64
	// Manufacturer, Model and Revision answer AT+CGMI, AT+CGMM, AT+CGMR and ATI
	// (defaults "ZTE CORPORATION", "MF180", "BD_MF180V1.0.0B02").
	Manufacturer, Model, Revision string
	// IMEI and IMSI answer AT+CGSN and AT+CIMI (test-network defaults).
	IMEI, IMSI string
	// ConnectDelay is the time between ATD and CONNECT (default 200ms).
	ConnectDelay time.Duration
	// GuardTime is the silence required before and after "+++" (default 1s,
	// the V.250 S12 default).
	GuardTime time.Duration
	// HangupSilence is how long the DTE must stay silent after sending an LCP
	// Terminate-Request before the modem treats it as hung up (default 1s).
	HangupSilence time.Duration
	// Logger receives one event per state change; nil discards.
	Logger *slog.Logger
}

// withDefaults fills in the documented defaults.
func (c Config) withDefaults() Config {
	dur := func(d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			*d = 0
		}
	}
	dur(&c.BootDelay, 2*time.Second)
	dur(&c.RegistrationDelay, time.Second)
	dur(&c.SlowRegistrationDelay, 20*time.Second)
	dur(&c.ConnectDelay, 200*time.Millisecond)
	dur(&c.GuardTime, time.Second)
	dur(&c.HangupSilence, time.Second)
	str := func(s *string, def string) {
		if *s == "" {
			*s = def
		}
	}
	str(&c.PUK, "12345678")
	str(&c.Operator, "Bench Mobile")
	str(&c.Manufacturer, "ZTE CORPORATION")
	str(&c.Model, "MF180")
	str(&c.Revision, "BD_MF180V1.0.0B02")
	str(&c.IMEI, "861234560000001")
	str(&c.IMSI, "001010000000001")
	if c.AcT == 0 {
		c.AcT = 2
	}
	if c.RSSI == 0 {
		c.RSSI = 20
	}
	if c.RSSI < 0 || c.RSSI > 31 {
		c.RSSI = 99
	}
	if c.URCMeanInterval < 0 {
		c.URCMeanInterval = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
