package daemon

import (
	"errors"

	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/netcard"
	"github.com/failberry/failberry/modem/pppd"
)

// errConfig marks a failure of our own settings (an unreadable PIN file, ...).
var errConfig = errors.New("configuration problem")

// Classify sorts a session's failure into what the recovery ladder acts on.
// Order matters: SIM problems are checked first because they must never lead
// to a power cycle or a reboot, whatever else the error says.
func Classify(err error) Class {
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	var exit *pppd.ExitError
	switch {
	case is(modem.ErrSIMNotInserted, modem.ErrSIMPINRequired, modem.ErrSIMPUKRequired,
		modem.ErrIncorrectPassword, modem.ErrPINRejectedBefore, modem.ErrSIMFailure, modem.ErrSIMWrong):
		return ClassSIM
	case is(errConfig):
		return ClassConfig
	case is(modem.ErrRegistrationDenied, modem.ErrNotRegistered, modem.ErrRoamingNotAllowed,
		modem.ErrNoNetworkService, modem.ErrNetworkTimeout, modem.ErrSIMBusy):
		return ClassRegistration
	case is(errModemGone, modem.ErrNoModemPort, modem.ErrNoNetcard, netcard.ErrGone):
		return ClassGone
	case is(modem.ErrNoResponse, modem.ErrTimeout):
		return ClassUnresponsive
	case is(errPathDown):
		return ClassPath
	case errors.As(err, &exit), is(errLinkTimeout, errLinkWatch, errLinkLost, errNoLease, netcard.ErrLeaseLost, netcard.ErrNoLease):
		return ClassPPP
	}
	return ClassDial
}
