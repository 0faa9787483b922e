package daemon

import (
	"fmt"
	"testing"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/pppd"
)

func TestClassify(t *testing.T) {
	cme := func(code int) error { return &modem.CMEError{Code: code} }
	tests := []struct {
		err  error
		want Class
	}{
		{fmt.Errorf("bring-up: SIM: %w", cme(10)), ClassSIM},
		{fmt.Errorf("bring-up: %w", modem.ErrPINRejectedBefore), ClassSIM},
		{fmt.Errorf("AT+CPIN: %w", cme(16)), ClassSIM},
		{fmt.Errorf("x: %w", cme(12)), ClassSIM},
		{fmt.Errorf("reg: %w", modem.ErrRegistrationDenied), ClassRegistration},
		{fmt.Errorf("reg: %w", modem.ErrNotRegistered), ClassRegistration},
		{fmt.Errorf("reg: %w", modem.ErrRoamingNotAllowed), ClassRegistration},
		{fmt.Errorf("%w: /dev/ttyUSB0", errModemGone), ClassGone},
		{fmt.Errorf("wake: %w", modem.ErrNoResponse), ClassUnresponsive},
		{fmt.Errorf("dial: %w", modem.ErrNoCarrier), ClassDial},
		{fmt.Errorf("pppd: %w", &pppd.ExitError{Code: 15}), ClassPPP},
		{errLinkTimeout, ClassPPP},
		{errPathDown, ClassPath},
		{fmt.Errorf("%w: pin_file unreadable", errConfig), ClassConfig},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

// The config's default probes and the prober's own defaults are written in
// two places (the config documents them, the prober stands alone): they must
// not drift apart.
func TestDefaultProbesMatchProber(t *testing.T) {
	d := &Daemon{cfg: config.Default()}
	got := d.proberConfig("ppp0")
	want := health.DefaultProberConfig()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("config defaults %+v\nprober defaults %+v", got, want)
	}
}
