package daemon

import (
	"errors"
	"fmt"
	"testing"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/health/target"
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
		{fmt.Errorf("%w: netlink subscription: %v", errLinkWatch, "ENOBUFS"), ClassPPP},
		{errPathDown, ClassPath},
		{fmt.Errorf("%w: ppp0", errLinkLost), ClassPPP},
		{fmt.Errorf("%w: pin_file unreadable", errConfig), ClassConfig},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

// A probe target the prober cannot run ends the start with a config error,
// rather than a daemon whose /cellular stays at 503 (issue 11).
func TestNewRefusesProbesThatCannotRun(t *testing.T) {
	cfg := config.Default()
	cfg.Modem.APN = "internet"
	cfg.Health.Probes.Targets = []target.Target{{Kind: "icmp", Addr: "example.com"}}
	cfg.Health.Probes.Quorum = 1
	if _, err := New(Options{Config: cfg}); !errors.Is(err, health.ErrInvalidConfig) {
		t.Fatalf("New = %v, want health.ErrInvalidConfig", err)
	}
}
