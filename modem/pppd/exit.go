package pppd

import (
	"fmt"
	"strings"
)

// pppd exit statuses (pppd(8) "EXIT STATUS"), for callers that branch on them.
const (
	ExitFatal             = 1
	ExitOptionError       = 2
	ExitNotRoot           = 3
	ExitNoKernelSupport   = 4
	ExitUserRequest       = 5 // SIGTERM/SIGINT: the normal result of Stop
	ExitLockFailed        = 6
	ExitOpenFailed        = 7
	ExitConnectFailed     = 8
	ExitPtyCmdFailed      = 9
	ExitNegotiationFailed = 10
	ExitPeerAuthFailed    = 11
	ExitIdleTimeout       = 12
	ExitConnectTime       = 13
	ExitCallback          = 14
	ExitPeerDead          = 15 // LCP echo requests went unanswered
	ExitHangup            = 16 // the modem dropped carrier
	ExitLoopback          = 17
	ExitInitFailed        = 18
	ExitAuthTopeerFailed  = 19
)

var exitMeanings = map[int]string{
	0:                     "link terminated normally",
	ExitFatal:             "fatal error",
	ExitOptionError:       "option error",
	ExitNotRoot:           "not running as root",
	ExitNoKernelSupport:   "no kernel PPP support (is the ppp_generic module loaded?)",
	ExitUserRequest:       "terminated by signal",
	ExitLockFailed:        "serial port lock failed",
	ExitOpenFailed:        "could not open the serial port",
	ExitConnectFailed:     "connect script failed",
	ExitPtyCmdFailed:      "pty command failed",
	ExitNegotiationFailed: "PPP negotiation failed",
	ExitPeerAuthFailed:    "peer failed to authenticate",
	ExitIdleTimeout:       "idle timeout",
	ExitConnectTime:       "connect time limit reached",
	ExitCallback:          "callback negotiated",
	ExitPeerDead:          "peer dead (no answer to LCP echo)",
	ExitHangup:            "modem hung up",
	ExitLoopback:          "loopback detected",
	ExitInitFailed:        "init script failed",
	ExitAuthTopeerFailed:  "failed to authenticate to the peer",
}

// ExitError reports how pppd ended, with its last log lines for the failure
// report. Code is pppd's exit status, or -1 when a signal killed it.
type ExitError struct {
	Code   int
	Signal string // e.g. "killed"; empty when pppd exited by itself
	Log    []string
}

// Meaning names what Code means according to pppd(8).
func (e *ExitError) Meaning() string {
	if e.Signal != "" {
		return "killed by signal " + e.Signal
	}
	if m, ok := exitMeanings[e.Code]; ok {
		return m
	}
	return "unknown exit status"
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("pppd exited %d: %s", e.Code, e.Meaning())
	if e.Signal != "" {
		s = "pppd " + e.Meaning()
	}
	if n := len(e.Log); n > 0 {
		s += " (last log: " + strings.TrimSpace(e.Log[n-1]) + ")"
	}
	return s
}
