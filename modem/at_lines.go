package modem

import (
	"strings"
)

// maxLine caps a line; a longer one is dropped whole, so a modem spewing
// binary (a PPP stream, a crashed firmware) cannot grow memory.
const maxLine = 1024

// lineSplitter turns a byte stream into lines. CR and LF both end a line
// (V0 results end in CR alone); empty lines, NUL and other control bytes are
// dropped.
type lineSplitter struct {
	buf      []byte
	overflow bool
}

// push adds one byte and returns a completed line, if any.
func (s *lineSplitter) push(b byte) (string, bool) {
	switch {
	case b == '\r' || b == '\n':
		line := strings.TrimSpace(string(s.buf))
		over := s.overflow
		s.buf, s.overflow = s.buf[:0], false
		return line, line != "" && !over
	case s.overflow:
	case len(s.buf) >= maxLine:
		s.overflow = true
	case b == '\t':
		s.buf = append(s.buf, ' ')
	case b < 0x20 || b == 0x7f:
	default:
		s.buf = append(s.buf, b)
	}
	return "", false
}

// reset drops a partial line.
func (s *lineSplitter) reset() { s.buf, s.overflow = s.buf[:0], false }

// lineKind is what a received line is to the engine.
type lineKind int

const (
	kindInfo  lineKind = iota // belongs to the outstanding command's response
	kindEcho                  // the command echoed back
	kindFinal                 // final result code
	kindURC                   // unsolicited result code
	kindNoise                 // nothing we can use (no command outstanding)
)

// urcPrefixes are the unsolicited result codes of 27.007 and of the Huawei
// and ZTE firmwares met on USB sticks.
var urcPrefixes = []string{
	"RING", "+CRING:", "+CLIP:", "+CCWA:", "+CREG:", "+CGREG:", "+CEREG:", "+C5GREG:",
	"+CGEV:", "+CMTI:", "+CMT:", "+CDSI:", "+CDS:", "+CBM:", "+CUSD:", "+CIEV:",
	"+PACSP", "+CTZV:", "+CTZE:", "+NITZ",
	"^RSSI:", "^HCSQ:", "^MODE:", "^BOOT:", "^DSFLOWRPT:", "^SIMST:", "^SRVST:",
	"^CEND:", "^CONN:", "^ORIG:", "^CONF:", "^STIN:", "^NDISSTAT:", "^SYSSTART",
	"^ACTIVEBAND:", "^RFSWITCH:", "^CRSSI:", "^EONS:", "^NWTIME:", "^POSITION:",
	"+ZUSIMR", "+ZDONR", "+ZPASR", "+ZEND", "+ZPSTM", "+ZSTR", "+ZCCNT",
	"+ZEMSCI", "+ZUSLOT", "+ZGIPDNS", "+ZCONSTAT",
}

// regURCs are the +CxREG prefixes whose solicited and unsolicited forms differ
// only in the leading <n> field.
var regURCs = map[string]bool{"+CREG": true, "+CGREG": true, "+CEREG": true, "+C5GREG": true}

// urcName returns the URC's command name ("+CREG", "^RSSI") if line starts
// with a known unsolicited prefix.
func urcName(line string) (string, bool) {
	up := strings.ToUpper(line)
	for _, p := range urcPrefixes {
		if strings.HasPrefix(up, p) {
			return strings.TrimSuffix(p, ":"), true
		}
	}
	return "", false
}

// commandName is the extended command a command line addresses: "+CREG" for
// "AT+CREG?", "" for basic commands.
func commandName(cmd string) string {
	up := strings.ToUpper(strings.TrimSpace(cmd))
	if !strings.HasPrefix(up, "AT") || len(up) < 3 || (up[2] != '+' && up[2] != '^' && up[2] != '$') {
		return ""
	}
	name := up[2:]
	if i := strings.IndexAny(name, "?=;"); i >= 0 {
		name = name[:i]
	}
	return name
}

// solicitedRegForm reports whether a +CxREG line has the solicited form
// "<n>,<stat>[,...]": at least two fields and an unquoted number second.
// The unsolicited form starts with <stat> followed by a quoted <lac>.
func solicitedRegForm(line string) bool {
	i := strings.IndexByte(line, ':')
	if i < 0 {
		return false
	}
	f := splitFields(line[i+1:])
	if len(f) < 2 || f[1].quoted {
		return false
	}
	_, err := f[1].int()
	return err == nil
}

// finalCode classifies line as a final result code; numeric codes count only
// when numeric is set (V0 in effect or being switched).
func finalCode(line string, numeric bool) bool {
	up := strings.ToUpper(line)
	switch up {
	case "OK", "ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "NO DIAL TONE", "CONNECT":
		return true
	case "0", "1", "3", "4", "6", "7", "8":
		return numeric
	}
	return strings.HasPrefix(up, "CONNECT ") || strings.HasPrefix(up, "+CME ERROR:") ||
		strings.HasPrefix(up, "+CMS ERROR:")
}

// pending is the command awaiting its final result code.
type pending struct {
	cmd      string
	name     string
	numeric  bool
	echoSeen bool
	nLines   int
}

// classifyLine decides what line is; p is nil when no command is outstanding.
func classifyLine(line string, p *pending, v0 bool) lineKind {
	if p == nil {
		if v0 && line == "2" {
			return kindURC // RING
		}
		if _, ok := urcName(line); ok {
			return kindURC
		}
		return kindNoise
	}
	if !p.echoSeen && p.nLines == 0 && len(p.cmd) > 0 &&
		strings.HasSuffix(strings.ToUpper(line), strings.ToUpper(p.cmd)) {
		return kindEcho
	}
	if finalCode(line, v0 || p.numeric) {
		return kindFinal
	}
	if (v0 || p.numeric) && line == "2" {
		return kindURC
	}
	if name, ok := urcName(line); ok {
		if name != p.name {
			return kindURC
		}
		if regURCs[name] && !solicitedRegForm(line) {
			return kindURC
		}
	}
	return kindInfo
}

// finalError maps a final result line to nil (success) or its error.
func finalError(final string) error {
	up := strings.ToUpper(final)
	switch {
	case up == "OK" || up == "0" || up == "1" || up == "CONNECT" || strings.HasPrefix(up, "CONNECT "):
		return nil
	case up == "ERROR" || up == "4":
		return ErrError
	case up == "NO CARRIER" || up == "3":
		return ErrNoCarrier
	case up == "BUSY" || up == "7":
		return ErrBusy
	case up == "NO ANSWER" || up == "8":
		return ErrNoAnswer
	case up == "NO DIALTONE" || up == "NO DIAL TONE" || up == "6":
		return ErrNoDialtone
	case strings.HasPrefix(up, "+CME ERROR:"):
		return parseCME(final[len("+CME ERROR:"):])
	case strings.HasPrefix(up, "+CMS ERROR:"):
		return parseCMS(final[len("+CMS ERROR:"):])
	}
	return ErrError
}

// verboseAfter tells how a successful command changes the result format:
// +1 verbose (V1, Z, &F), -1 numeric (V0), 0 unchanged. It reads only the
// basic commands before any extended command or dial string.
func verboseAfter(cmd string) (change int, touches bool) {
	up := strings.ToUpper(strings.TrimSpace(cmd))
	if !strings.HasPrefix(up, "AT") {
		return 0, false
	}
	for i := 2; i < len(up); i++ {
		switch c := up[i]; {
		case c == '+' || c == '^' || c == '$' || c == '%' || c == 'D' || c == ';' || c == '"':
			return change, touches
		case c == 'Z':
			change, touches = 1, true
		case c == '&' && i+1 < len(up) && up[i+1] == 'F':
			change, touches = 1, true
			i++
		case c == 'V':
			touches = true
			if i+1 < len(up) && up[i+1] == '0' {
				change = -1
			} else {
				change = 1
			}
		}
	}
	return change, touches
}
