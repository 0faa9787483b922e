package modem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors for the final result codes callers branch on. Command wraps
// them in a *CommandError that names the (redacted) command.
var (
	// ErrTimeout means no final result code arrived within the command timeout.
	ErrTimeout = errors.New("timeout waiting for final result code")
	// ErrError is the plain ERROR final result code (V0: 4).
	ErrError = errors.New("ERROR")
	// ErrNoCarrier is NO CARRIER (V0: 3): the call or data session failed or ended.
	ErrNoCarrier = errors.New("NO CARRIER")
	// ErrBusy is BUSY (V0: 7).
	ErrBusy = errors.New("BUSY")
	// ErrNoAnswer is NO ANSWER (V0: 8).
	ErrNoAnswer = errors.New("NO ANSWER")
	// ErrNoDialtone is NO DIALTONE or NO DIAL TONE (V0: 6).
	ErrNoDialtone = errors.New("NO DIALTONE")
)

// Sentinels a *CMEError matches with errors.Is, from the numeric code or from
// the 3GPP 27.007 text form, so callers need not care which AT+CMEE mode the
// modem is in.
var (
	ErrNotAllowed        = errors.New("operation not allowed")
	ErrNotSupported      = errors.New("operation not supported")
	ErrSIMNotInserted    = errors.New("SIM not inserted")
	ErrSIMPINRequired    = errors.New("SIM PIN required")
	ErrSIMPUKRequired    = errors.New("SIM PUK required")
	ErrSIMFailure        = errors.New("SIM failure")
	ErrSIMBusy           = errors.New("SIM busy")
	ErrSIMWrong          = errors.New("SIM wrong")
	ErrIncorrectPassword = errors.New("incorrect password")
	ErrNoNetworkService  = errors.New("no network service")
	ErrNetworkTimeout    = errors.New("network timeout")
)

// cmeSentinels maps 27.007 +CME ERROR codes to the sentinels above.
var cmeSentinels = map[int]error{
	3: ErrNotAllowed, 4: ErrNotSupported,
	10: ErrSIMNotInserted, 11: ErrSIMPINRequired, 12: ErrSIMPUKRequired,
	13: ErrSIMFailure, 14: ErrSIMBusy, 15: ErrSIMWrong, 16: ErrIncorrectPassword,
	30: ErrNoNetworkService, 31: ErrNetworkTimeout,
}

// cmeTexts is the 27.007 section 9.2.1 text of the codes a modem dial-up
// actually meets; unknown codes keep whatever text the modem sent.
var cmeTexts = map[int]string{
	0: "phone failure", 1: "no connection to phone", 2: "phone-adaptor link reserved",
	3: "operation not allowed", 4: "operation not supported", 5: "PH-SIM PIN required",
	10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required",
	13: "SIM failure", 14: "SIM busy", 15: "SIM wrong", 16: "incorrect password",
	17: "SIM PIN2 required", 18: "SIM PUK2 required", 20: "memory full",
	21: "invalid index", 22: "not found", 23: "memory failure",
	24: "text string too long", 25: "invalid characters in text string",
	26: "dial string too long", 27: "invalid characters in dial string",
	30: "no network service", 31: "network timeout",
	32: "network not allowed - emergency calls only", 100: "unknown",
}

// CMEError is a +CME ERROR final result code (mobile equipment error, 27.007).
// Code is -1 when the modem sent a text the package does not know.
type CMEError struct {
	Code int
	Text string
}

// Error formats the error as "+CME ERROR: 16 (incorrect password)".
func (e *CMEError) Error() string {
	if e.Code < 0 {
		return "+CME ERROR: " + e.Text
	}
	if e.Text == "" {
		return fmt.Sprintf("+CME ERROR: %d", e.Code)
	}
	return fmt.Sprintf("+CME ERROR: %d (%s)", e.Code, e.Text)
}

// Is matches the named sentinel for the code (ErrSIMPINRequired for 11, ...).
func (e *CMEError) Is(target error) bool {
	s, ok := cmeSentinels[e.Code]
	return ok && s == target
}

// parseCME builds a CMEError from the text after "+CME ERROR:", numeric or verbose.
func parseCME(arg string) *CMEError {
	arg = strings.TrimSpace(arg)
	if n, err := strconv.Atoi(arg); err == nil {
		return &CMEError{Code: n, Text: cmeTexts[n]}
	}
	for code, text := range cmeTexts {
		if strings.EqualFold(text, arg) {
			return &CMEError{Code: code, Text: text}
		}
	}
	return &CMEError{Code: -1, Text: arg}
}

// CMSError is a +CMS ERROR final result code (message service error, 27.005).
// Code is -1 for a text form.
type CMSError struct {
	Code int
	Text string
}

// Error formats the error as the modem sent it.
func (e *CMSError) Error() string {
	if e.Code < 0 {
		return "+CMS ERROR: " + e.Text
	}
	return fmt.Sprintf("+CMS ERROR: %d", e.Code)
}

func parseCMS(arg string) *CMSError {
	arg = strings.TrimSpace(arg)
	if n, err := strconv.Atoi(arg); err == nil {
		return &CMSError{Code: n}
	}
	return &CMSError{Code: -1, Text: arg}
}

// CommandError is what Command returns when the final result code is not a
// success: it names the command with secrets (PINs) masked, and unwraps to a
// sentinel, a *CMEError or a *CMSError.
type CommandError struct {
	Command string // redacted
	Final   string // final result line as received ("" on timeout)
	Err     error
}

// Error reads like `AT+CPIN="****": +CME ERROR: 16 (incorrect password)`.
func (e *CommandError) Error() string { return e.Command + ": " + e.Err.Error() }

// Unwrap returns the sentinel, *CMEError or *CMSError.
func (e *CommandError) Unwrap() error { return e.Err }

// secretCommands take passwords as arguments; their arguments are never logged.
var secretCommands = []string{"AT+CPIN=", "AT+CPWD=", "AT+CLCK=", "AT^CPIN="}

// redact masks the arguments of commands that carry a PIN or password, so
// logs and errors never show them.
func redact(cmd string) string {
	up := strings.ToUpper(cmd)
	for _, p := range secretCommands {
		if strings.HasPrefix(up, p) {
			return cmd[:len(p)] + `"****"`
		}
	}
	return cmd
}
