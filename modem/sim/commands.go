package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxLine caps a command line; the rest of a longer line is discarded and
// the line answered with ERROR.
const maxLine = 512

// commandBytes handles DTE bytes in command mode: echo, line editing, and
// running each completed line. It returns how many bytes it consumed: it
// stops early when a line switched the modem into data mode.
func (m *Modem) commandBytes(now time.Time, b []byte) int {
	for i, c := range b {
		if m.v.pending != nil || m.v.online {
			return i
		}
		if m.silent() {
			return len(b)
		}
		if m.v.echo {
			m.emitRaw([]byte{c})
		}
		switch {
		case c == '\n' && m.v.lastCR:
			// the LF of a CRLF
		case c == '\r' || c == '\n':
			line, over := string(m.v.line), m.v.lineOverflow
			m.v.line, m.v.lineOverflow = m.v.line[:0], false
			m.execLine(now, line, over)
		case c == 0x08 || c == 0x7f:
			if n := len(m.v.line); n > 0 {
				m.v.line = m.v.line[:n-1]
			}
		case len(m.v.line) < maxLine:
			m.v.line = append(m.v.line, c)
		default:
			m.v.lineOverflow = true
		}
		m.v.lastCR = c == '\r'
	}
	return len(b)
}

// execLine runs one command line: "AT" followed by any number of basic
// commands and ';'-separated extended commands. Bytes before "AT" are
// ignored, as V.250 modems do; a line without "AT" gets no answer.
func (m *Modem) execLine(now time.Time, line string, overflow bool) {
	i := indexAT(line)
	if i < 0 {
		if strings.TrimSpace(line) != "" {
			m.tr.add("-> " + printable(line) + " (ignored)")
		}
		return
	}
	line = line[i:]
	m.tr.add("-> " + printable(line))
	if overflow {
		m.respond(nil, &resError)
		return
	}
	var info []string
	rest := line[2:]
	for {
		rest = strings.TrimLeft(rest, " ;")
		if rest == "" {
			m.respond(info, &resOK)
			return
		}
		var lines []string
		var fin *result
		lines, fin, rest = m.execOne(now, rest)
		info = append(info, lines...)
		if fin == resStop {
			return
		}
		if fin != nil {
			m.respond(info, fin)
			return
		}
	}
}

// execOne runs the first command of s and returns its output, a final
// result if it ends the line (an error, CONNECT, ...), and the rest of s.
func (m *Modem) execOne(now time.Time, s string) ([]string, *result, string) {
	c := upper(s[0])
	switch {
	case c == '+' || c == '^' || c == '$' || c == '%':
		cmd, rest := splitExtended(s)
		lines, fin := m.extended(now, cmd)
		return lines, fin, rest
	case c == 'D':
		return nil, m.dial(now, s[1:]), ""
	case c == '&' || c == 'S' || (c >= 'A' && c <= 'Z'):
		name, arg, rest := splitBasic(s)
		lines, fin := m.basic(now, name, arg)
		return lines, fin, rest
	}
	return nil, &resError, ""
}

// splitExtended cuts an extended command at the first ';' outside quotes.
func splitExtended(s string) (cmd, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// splitBasic cuts a basic command: a letter (or &letter, or S<n>) and its
// numeric argument (or =value / ? for S registers).
func splitBasic(s string) (name, arg, rest string) {
	n := 1
	if s[0] == '&' && len(s) > 1 {
		n = 2
	}
	if upper(s[0]) == 'S' {
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		j := n
		if j < len(s) && s[j] == '?' {
			j++
		} else if j < len(s) && s[j] == '=' {
			j++
			for j < len(s) && isDigit(s[j]) {
				j++
			}
		}
		return strings.ToUpper(s[:n]), s[n:j], s[j:]
	}
	j := n
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	return strings.ToUpper(s[:n]), s[n:j], s[j:]
}

// indexAT finds the "AT" prefix in any letter case, byte-wise: the line may
// hold any bytes, not only UTF-8.
func indexAT(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if upper(s[i]) == 'A' && upper(s[i+1]) == 'T' {
			return i
		}
	}
	return -1
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// basic runs a V.250 basic command.
func (m *Modem) basic(now time.Time, name, arg string) ([]string, *result) {
	n, _ := strconv.Atoi(arg)
	switch name {
	case "E":
		m.v.echo = n == 1
	case "V":
		m.v.verbose = n == 1
	case "Q":
		m.v.quiet = n == 1
	case "Z", "&F":
		m.v.echo, m.v.verbose, m.v.quiet, m.v.cmee, m.v.s12 = true, true, false, 0, -1
	case "S12":
		return m.cmdS12(arg)
	case "H":
		if m.v.callUp {
			m.hangup(now, "ATH", false)
		}
	case "O":
		if !m.v.callUp {
			return nil, &resNoCarrier
		}
		m.goOnline(now)
		return nil, &resConnectRate
	case "I":
		return []string{"Manufacturer: " + m.cfg.Manufacturer, "Model: " + m.cfg.Model,
			"Revision: " + m.cfg.Revision, "IMEI: " + m.cfg.IMEI, "+GCAP: +CGSM,+DS,+ES"}, nil
	case "A":
		return nil, &resNoCarrier
	case "X", "L", "M", "&C", "&D", "&K", "&S", "&W", "&V":
	default:
		if name[0] == 'S' && len(name) > 1 {
			if strings.HasSuffix(arg, "?") {
				return []string{"000"}, nil
			}
			return nil, nil
		}
		return nil, &resError
	}
	return nil, nil
}

// cmdS12 reads or sets the escape guard time (V.250 S12: fiftieths of a
// second, 0 to 255), as Hayes modems do: "=n" sets it, "?" reads it.
func (m *Modem) cmdS12(arg string) ([]string, *result) {
	if arg == "?" {
		n := m.v.s12
		if n < 0 {
			n = int(m.cfg.GuardTime * 50 / time.Second)
		}
		return []string{fmt.Sprintf("%03d", n)}, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(arg, "="))
	if err != nil || n < 0 || n > 255 || !strings.HasPrefix(arg, "=") {
		return nil, &resError
	}
	m.v.s12 = n
	return nil, nil
}

var resConnectRate = result{1, "CONNECT 7200000"}

// resStop ends a command line whose command already answered or will
// answer later (ATD, AT+COPS=?, AT+CFUN=1,1).
var resStop = &result{code: -2}

// splitArgs splits extended-command parameters at commas outside quotes and
// removes the quotes.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			args = append(args, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(args, cur.String())
}

// extended runs an extended (+ or ^) command: name, then "" (action),
// "?" (read), "=?" (test) or "=args" (set).
func (m *Modem) extended(now time.Time, cmd string) ([]string, *result) {
	end := strings.IndexAny(cmd, "=?")
	if end < 0 {
		end = len(cmd)
	}
	name, op := strings.ToUpper(strings.TrimSpace(cmd[:end])), cmd[end:]
	var args []string
	if strings.HasPrefix(op, "=") && op != "=?" {
		args = splitArgs(op[1:])
		op = "="
	}
	switch name {
	case "+CMEE":
		return m.cmdCMEE(op, args)
	case "+CPIN":
		return m.cmdCPIN(now, op, args)
	case "+CPINR", "^CPIN", "+ZPINPUK":
		return m.cmdPINCounters(name, op)
	case "+CREG", "+CGREG", "+CEREG":
		return m.cmdReg(now, name, op, args)
	case "+CSQ":
		return []string{"+CSQ: " + strconv.Itoa(m.cfg.RSSI) + ",99"}, nil
	case "+COPS":
		return m.cmdCOPS(now, op)
	case "+CGMI", "+GMI":
		return []string{m.cfg.Manufacturer}, nil
	case "+CGMM", "+GMM":
		return []string{m.cfg.Model}, nil
	case "+CGMR", "+GMR":
		return []string{m.cfg.Revision}, nil
	case "+CGSN", "+GSN":
		return []string{m.cfg.IMEI}, nil
	case "+CIMI":
		if fin := m.simCheck(); fin != nil {
			return nil, fin
		}
		return []string{m.cfg.IMSI}, nil
	case "+CGDCONT":
		return m.cmdCGDCONT(op, args)
	case "+CFUN":
		return m.cmdCFUN(now, op, args)
	case "+CGATT":
		if op == "?" {
			att := 0
			if st := m.regStat(now); st == 1 || st == 5 {
				att = 1
			}
			return []string{"+CGATT: " + strconv.Itoa(att)}, nil
		}
		return nil, nil
	case "+FCLASS", "+IFC", "+IPR", "+CNMI", "+CMGF", "^CURC", "+CSCS", "+CRC", "+CGEREP", "^PORTSEL":
		if op == "?" {
			return []string{name + ": 0"}, nil
		}
		return nil, nil
	}
	return nil, &resError
}

func (m *Modem) cmdCMEE(op string, args []string) ([]string, *result) {
	switch op {
	case "?":
		return []string{"+CMEE: " + strconv.Itoa(m.v.cmee)}, nil
	case "=?":
		return []string{"+CMEE: (0-2)"}, nil
	case "=":
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 2 {
			return nil, m.cme(cmeBadParams)
		}
		m.v.cmee = n
		return nil, nil
	}
	return nil, &resError
}

func (m *Modem) cmdCOPS(now time.Time, op string) ([]string, *result) {
	switch op {
	case "?":
		if st := m.regStat(now); st == 1 || st == 5 {
			return []string{"+COPS: 0,0,\"" + m.cfg.Operator + "\"," + strconv.Itoa(m.cfg.AcT)}, nil
		}
		return []string{"+COPS: 0"}, nil
	case "=?":
		// A network scan takes a while on a real modem.
		m.v.pending = &pendingCmd{at: now.Add(m.cfg.RegistrationDelay + time.Second), done: func(time.Time) {
			m.respond([]string{"+COPS: (2,\"" + m.cfg.Operator + "\",\"Bench\",\"00101\"," +
				strconv.Itoa(m.cfg.AcT) + "),,(0,1,2,3,4),(0,1,2)"}, &resOK)
		}}
		return nil, resStop
	case "=", "":
		return nil, nil
	}
	return nil, &resError
}

func (m *Modem) cmdCGDCONT(op string, args []string) ([]string, *result) {
	switch op {
	case "?":
		var out []string
		for cid := 1; cid <= 16; cid++ {
			if c, ok := m.v.contexts[cid]; ok {
				out = append(out, "+CGDCONT: "+strconv.Itoa(cid)+",\""+c.pdpType+"\",\""+c.apn+"\",\"0.0.0.0\",0,0")
			}
		}
		return out, nil
	case "=?":
		return []string{"+CGDCONT: (1-16),\"IP\",,,(0-2),(0-4)", "+CGDCONT: (1-16),\"IPV6\",,,(0-2),(0-4)",
			"+CGDCONT: (1-16),\"IPV4V6\",,,(0-2),(0-4)"}, nil
	case "=":
		cid, err := strconv.Atoi(strings.TrimSpace(args[0]))
		if err != nil || cid < 1 || cid > 16 {
			return nil, m.cme(cmeBadParams)
		}
		if len(args) == 1 {
			delete(m.v.contexts, cid)
			return nil, nil
		}
		t := strings.ToUpper(strings.TrimSpace(args[1]))
		if t != "IP" && t != "IPV6" && t != "IPV4V6" {
			return nil, m.cme(cmeBadParams)
		}
		apn := ""
		if len(args) > 2 {
			apn = args[2]
		}
		m.v.contexts[cid] = pdpContext{pdpType: t, apn: apn}
		return nil, nil
	}
	return nil, &resError
}

func (m *Modem) cmdCFUN(now time.Time, op string, args []string) ([]string, *result) {
	switch op {
	case "?":
		return []string{"+CFUN: " + strconv.Itoa(m.v.cfun)}, nil
	case "=?":
		return []string{"+CFUN: (0,1,4),(0-1)"}, nil
	case "=":
	default:
		return nil, &resError
	}
	fun, err := strconv.Atoi(strings.TrimSpace(args[0]))
	if err != nil || (fun != 0 && fun != 1 && fun != 4) {
		return nil, m.cme(cmeBadParams)
	}
	if len(args) > 1 && strings.TrimSpace(args[1]) == "1" {
		if fun != 1 {
			return nil, m.cme(cmeBadParams)
		}
		m.respond(nil, &resOK)
		m.log.Info("AT+CFUN=1,1: rebooting")
		m.tr.add("** reset by AT+CFUN=1,1")
		m.powerCycle(true)
		m.rebooted = true
		m.v.pending = nil
		return nil, resStop
	}
	if fun == m.v.cfun {
		return nil, nil
	}
	m.v.cfun = fun
	m.v.regStart = time.Time{}
	if fun == 1 && m.v.simReady {
		m.v.regStart = now
	}
	if fun != 1 && m.v.callUp {
		m.hangup(now, "radio off", false)
	}
	return nil, nil
}
