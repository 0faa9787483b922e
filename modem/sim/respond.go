package sim

import (
	"strconv"
	"strings"
)

// result is a final result code.
type result struct {
	code int    // V0 numeric form; -1 for +CME ERROR
	text string // V1 form
}

var (
	resOK        = result{0, "OK"}
	resNoCarrier = result{3, "NO CARRIER"}
	resError     = result{4, "ERROR"}
)

// CME error codes from 3GPP 27.007 section 9.2.
const (
	cmeNotAllowed   = 3
	cmeNotSupported = 4
	cmeNoSIM        = 10
	cmePINRequired  = 11
	cmePUKRequired  = 12
	cmeSIMFailure   = 13
	cmeSIMBusy      = 14
	cmeWrongPass    = 16
	cmeNoService    = 30
	cmeBadParams    = 50
)

var cmeText = map[int]string{
	cmeNotAllowed:   "operation not allowed",
	cmeNotSupported: "operation not supported",
	cmeNoSIM:        "SIM not inserted",
	cmePINRequired:  "SIM PIN required",
	cmePUKRequired:  "SIM PUK required",
	cmeSIMFailure:   "SIM failure",
	cmeSIMBusy:      "SIM busy",
	cmeWrongPass:    "incorrect password",
	cmeNoService:    "no network service",
	cmeBadParams:    "incorrect parameters",
}

// cme renders a +CME ERROR in the form AT+CMEE asked for.
func (m *Modem) cme(code int) *result {
	switch m.v.cmee {
	case 1:
		return &result{-1, "+CME ERROR: " + strconv.Itoa(code)}
	case 2:
		return &result{-1, "+CME ERROR: " + cmeText[code]}
	}
	return &resError
}

// respond sends information lines and a final result (nil: none), formatted
// for V0/V1/Q1, recording them in the transcript and, under FaultGarbage,
// mixing noise in between lines (never inside one).
func (m *Modem) respond(info []string, fin *result) {
	var parts []string
	for _, l := range info {
		m.tr.add("<- " + printable(l))
		if m.v.verbose {
			parts = append(parts, "\r\n"+l+"\r\n")
		} else {
			parts = append(parts, l+"\r\n")
		}
	}
	if fin != nil && !m.v.quiet {
		m.tr.add("<- " + fin.text)
		switch {
		case m.v.verbose:
			parts = append(parts, "\r\n"+fin.text+"\r\n")
		case fin.code < 0:
			parts = append(parts, fin.text+"\r")
		default:
			parts = append(parts, strconv.Itoa(fin.code)+"\r")
		}
	}
	for _, p := range parts {
		if m.fault == FaultGarbage && m.rng.IntN(2) == 0 {
			m.emitRaw(m.junk())
		}
		m.emitRaw([]byte(p))
	}
}

// urc sends an unsolicited line.
func (m *Modem) urc(line string) {
	m.tr.add("<- " + line + " (unsolicited)")
	if m.v.verbose {
		m.emitRaw([]byte("\r\n" + line + "\r\n"))
	} else {
		m.emitRaw([]byte(line + "\r\n"))
	}
}

// junk is one burst of the noise FaultGarbage injects.
func (m *Modem) junk() []byte {
	switch m.rng.IntN(4) {
	case 0: // NULs and 0xff, as a browning-out UART produces
		b := make([]byte, 1+m.rng.IntN(16))
		for i := range b {
			if m.rng.IntN(2) == 0 {
				b[i] = 0xff
			}
		}
		return b
	case 1: // a partial line
		frags := []string{"+CRE", "^RSSI:1", "+CPIN: SI", "O", "\r\n+CG", "ERR"}
		return []byte(frags[m.rng.IntN(len(frags))])
	case 2: // a very long line
		return []byte(strings.Repeat("A", 600+m.rng.IntN(1000)) + "\r\n")
	default: // random bytes
		b := make([]byte, 1+m.rng.IntN(32))
		for i := range b {
			b[i] = byte(m.rng.IntN(256))
		}
		return b
	}
}
