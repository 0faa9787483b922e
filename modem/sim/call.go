package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dial handles ATD<number>: packet-data numbers *99# and *99***<cid>#
// (with an optional T/P prefix) connect after ConnectDelay when the SIM is
// ready, the modem registered and the context defined; anything else, or a
// modem that cannot, answers NO CARRIER.
func (m *Modem) dial(now time.Time, number string) *result {
	number = strings.ToUpper(strings.TrimSpace(number))
	number = strings.TrimLeft(number, "TP")
	if m.v.callUp {
		return m.cme(cmeNotAllowed)
	}
	cid, ok := parseDataNumber(number)
	if !ok {
		m.log.Info("dial refused: not a data number", "number", number)
		return &resNoCarrier
	}
	if why := m.cannotDial(now, cid); why != "" {
		m.log.Info("dial refused", "reason", why)
		m.tr.add("** dial refused: " + why)
		return &resNoCarrier
	}
	m.v.pending = &pendingCmd{at: now.Add(m.cfg.ConnectDelay), done: func(now time.Time) {
		if m.silent() {
			m.tr.add("** dial lost: modem hung")
			return
		}
		if why := m.cannotDial(now, cid); why != "" {
			m.tr.add("** dial failed: " + why)
			m.respond(nil, &resNoCarrier)
			return
		}
		m.calls++
		m.v.callUp = true
		m.v.bytesUp, m.v.bytesDown = 0, 0
		m.v.connectAt, m.v.firstLCP = now, 0
		m.log.Info("CONNECT", "calls", m.calls)
		m.respond(nil, &resConnectRate)
		m.goOnline(now)
	}}
	return resStop
}

// parseDataNumber recognises *99#, *99***<cid>#; cid 0 means "the default".
func parseDataNumber(n string) (cid int, ok bool) {
	if n == "*99#" {
		return 0, true
	}
	rest, found := strings.CutPrefix(n, "*99***")
	if !found || !strings.HasSuffix(rest, "#") {
		return 0, false
	}
	cid, err := strconv.Atoi(strings.TrimSuffix(rest, "#"))
	if err != nil || cid < 1 || cid > 16 {
		return 0, false
	}
	return cid, true
}

// cannotDial says why a call cannot be set up now, or "".
func (m *Modem) cannotDial(now time.Time, cid int) string {
	if m.fault == FaultSIMRemoved {
		return "no SIM"
	}
	if !m.v.simReady {
		return "SIM locked"
	}
	if st := m.regStat(now); st != 1 && st != 5 {
		return fmt.Sprintf("not registered (stat %d)", st)
	}
	if _, ok := m.v.contexts[cid]; cid != 0 && !ok {
		return fmt.Sprintf("context %d not defined", cid)
	}
	return ""
}

// goOnline enters data mode.
func (m *Modem) goOnline(now time.Time) {
	m.v.online = true
	m.v.lastDTE = now
	m.v.plus = 0
	m.v.escapeAt, m.v.termAt = time.Time{}, time.Time{}
	m.v.up, m.v.down = pppScanner{}, pppScanner{}
	m.tr.add("== data mode")
}

// hangup ends the call; noCarrier sends NO CARRIER (the network or the DTE
// ended it) rather than nothing (ATH answers OK by itself).
func (m *Modem) hangup(now time.Time, reason string, noCarrier bool) {
	m.log.Info("call ended", "reason", reason, "bytes_up", m.v.bytesUp, "bytes_down", m.v.bytesDown)
	m.tr.add(m.callSummary(reason))
	m.v.callUp, m.v.online = false, false
	m.endSession()
	m.v.escapeAt, m.v.termAt = time.Time{}, time.Time{}
	m.v.plus = 0
	m.v.line, m.v.lineOverflow = m.v.line[:0], false
	if noCarrier {
		m.respond(nil, &resNoCarrier)
	}
}

func (m *Modem) callSummary(reason string) string {
	return fmt.Sprintf("== call ended (%s): %d bytes dte->carrier, %d bytes carrier->dte",
		reason, m.v.bytesUp, m.v.bytesDown)
}

// escape leaves data mode after a "+++" with guard time on both sides; the
// call stays up (ATO resumes it, ATH ends it).
func (m *Modem) escape(now time.Time) {
	m.v.escapeAt = time.Time{}
	m.v.plus = 0
	if !m.v.online {
		return
	}
	m.v.online = false
	m.tr.add(fmt.Sprintf("== +++ escape: %d bytes dte->carrier, %d bytes carrier->dte so far",
		m.v.bytesUp, m.v.bytesDown))
	m.respond(nil, &resOK)
}

// fromDTE handles bytes the host wrote to the modem.
func (m *Modem) fromDTE(now time.Time, b []byte) {
	if m.silent() {
		m.droppedDTE += len(b)
		m.v.line, m.v.plus, m.v.escapeAt = m.v.line[:0], 0, time.Time{}
		return
	}
	for len(b) > 0 {
		switch {
		case m.v.online:
			m.dataFromDTE(now, b)
			return
		case m.v.pending != nil:
			return // a real modem is busy dialling; we drop what comes meanwhile
		default:
			b = b[m.commandBytes(now, b):]
		}
	}
}

// dataFromDTE relays host bytes to the carrier in data mode, watching for
// the "+++" escape and for the host ending PPP.
//
// The emulated serial line cannot carry DTR, so the modem cannot see pppd
// drop it when it hangs up. Instead it watches the PPP stream: an LCP
// Terminate-Ack from the host (the network ended the link), or an LCP
// Terminate-Request followed by HangupSilence of silence (the host ended
// it), counts as the host hanging up: the frame is relayed, then the modem
// leaves data mode with NO CARRIER, as a real modem does on DTR drop (&D2).
func (m *Modem) dataFromDTE(now time.Time, b []byte) {
	m.v.termAt = time.Time{}
	m.watchEscape(now, b)
	out, frames := m.v.up.scan(b, m.fault == FaultBlackhole)
	m.v.bytesUp += len(b)
	m.toCarrier(out)
	for _, f := range frames {
		if f.proto != protoLCP {
			continue
		}
		if m.v.firstLCP == 0 {
			m.v.firstLCP = max(now.Sub(m.v.connectAt), time.Nanosecond)
		}
		switch f.code {
		case lcpTermAck:
			m.hangup(now, "DTE hung up (LCP Terminate-Ack)", true)
			return
		case lcpTermReq:
			m.v.termAt = now.Add(m.cfg.HangupSilence)
		}
	}
}

// watchEscape tracks "+++" preceded by the guard time (S12, or GuardTime)
// of silence; the escape fires when the guard time passes after it with no
// other byte.
func (m *Modem) watchEscape(now time.Time, b []byte) {
	for _, c := range b {
		switch {
		case c == '+' && m.v.plus == 0 && now.Sub(m.v.lastDTE) >= m.guardTime():
			m.v.plus = 1
		case c == '+' && m.v.plus > 0 && m.v.plus < 3:
			m.v.plus++
		default:
			m.v.plus = 0
		}
		m.v.lastDTE = now
	}
	m.v.escapeAt = time.Time{}
	if m.v.plus == 3 {
		m.v.escapeAt = now.Add(m.guardTime())
	}
}

// fromCarrier relays network bytes to the host in data mode and drops them
// otherwise (before CONNECT, after hang-up, after +++).
func (m *Modem) fromCarrier(b []byte) {
	if !m.v.online || m.silent() {
		m.droppedCarrier += len(b)
		return
	}
	out, _ := m.v.down.scan(b, m.fault == FaultBlackhole)
	m.v.bytesDown += len(b)
	m.emitRaw(out)
}

// endSession tells the carrier side the call is gone, as a real network ends
// the subscriber's PPP session when the radio call drops: an LCP
// Terminate-Request from the subscriber's side. Without it the carrier's pppd
// would keep the old session until its echo timer fires and could tear down
// the next call with it.
//
// The Terminate-Ack after it ends the carrier's Stopping state at once: pppd
// answers the request with its own Ack and then, in Stopping, ignores every
// Configure-Request for one restart interval (lcp-restart, whole seconds), so
// a redial's first requests went unanswered for about a second that a real
// network, which opens each call on a fresh PPP endpoint, never adds. A
// Terminate-Ack in Stopping is RFC 1661's RTA event: Stopped, this layer
// finished; the carrier's pppd (persist, holdoff 0) then listens for the next
// call.
func (m *Modem) endSession() {
	if len(m.carOut) < maxPending {
		m.carOut = append(m.carOut, lcpTerminateRequest...)
		m.carOut = append(m.carOut, lcpTerminateAck...)
	}
}
