package sim

import (
	"strconv"
	"strings"
	"time"
)

// simCheck returns the error a command needing an unlocked SIM gets, or nil.
func (m *Modem) simCheck() *result {
	switch {
	case m.fault == FaultSIMRemoved:
		return m.cme(cmeNoSIM)
	case m.sim.blocked:
		return m.cme(cmeSIMFailure)
	case m.sim.pukRequired:
		return m.cme(cmePUKRequired)
	case !m.v.simReady:
		return m.cme(cmePINRequired)
	}
	return nil
}

func (m *Modem) cmdCPIN(now time.Time, op string, args []string) ([]string, *result) {
	switch op {
	case "?":
		switch {
		case m.fault == FaultSIMRemoved:
			return nil, m.cme(cmeNoSIM)
		case m.sim.blocked:
			return nil, m.cme(cmeSIMFailure)
		case m.sim.pukRequired:
			return []string{"+CPIN: SIM PUK"}, nil
		case !m.v.simReady:
			return []string{"+CPIN: SIM PIN"}, nil
		}
		return []string{"+CPIN: READY"}, nil
	case "=?":
		return nil, nil
	case "=":
	default:
		return nil, &resError
	}
	m.sim.pinTries++
	info, res := m.enterPIN(now, args)
	if res != nil {
		m.sim.pinRefused++
	}
	return info, res
}

// enterPIN answers AT+CPIN=<pin>[,<new pin>].
func (m *Modem) enterPIN(now time.Time, args []string) ([]string, *result) {
	switch {
	case m.fault == FaultSIMRemoved:
		return nil, m.cme(cmeNoSIM)
	case m.sim.blocked:
		return nil, m.cme(cmeSIMFailure)
	case m.sim.pukRequired:
		return m.unlockPUK(now, args)
	case m.v.simReady:
		return nil, m.cme(cmeNotAllowed)
	}
	if args[0] != m.sim.pin {
		m.sim.pinLeft--
		m.log.Warn("wrong PIN", "attempts_left", m.sim.pinLeft)
		if m.sim.pinLeft <= 0 {
			m.sim.pinLeft = 0
			m.sim.pukRequired = true
		}
		return nil, m.cme(cmeWrongPass)
	}
	m.simUnlocked(now)
	return nil, nil
}

// unlockPUK handles AT+CPIN="<puk>","<new pin>" while the SIM wants its PUK.
func (m *Modem) unlockPUK(now time.Time, args []string) ([]string, *result) {
	if len(args) < 2 {
		return nil, m.cme(cmePUKRequired)
	}
	if args[0] != m.sim.puk {
		m.sim.pukLeft--
		if m.sim.pukLeft <= 0 {
			m.sim.pukLeft = 0
			m.sim.blocked = true
		}
		return nil, m.cme(cmeWrongPass)
	}
	m.sim.pin = args[1]
	m.sim.pukRequired = false
	m.sim.pukLeft = 10
	m.simUnlocked(now)
	return nil, nil
}

func (m *Modem) simUnlocked(now time.Time) {
	m.log.Info("SIM unlocked")
	m.sim.pinLeft = 3
	m.v.simReady = true
	if m.v.cfun == 1 && m.v.regStart.IsZero() {
		m.v.regStart = now
	}
}

// cmdPINCounters answers the attempt-counter queries of 27.007 (+CPINR),
// Huawei (^CPIN) and ZTE (+ZPINPUK).
func (m *Modem) cmdPINCounters(name, op string) ([]string, *result) {
	if m.fault == FaultSIMRemoved {
		return nil, m.cme(cmeNoSIM)
	}
	pin, puk := strconv.Itoa(m.sim.pinLeft), strconv.Itoa(m.sim.pukLeft)
	switch {
	case name == "+CPINR" && op != "=?":
		return []string{"+CPINR: SIM PIN," + pin + ",3", "+CPINR: SIM PUK," + puk + ",10"}, nil
	case name == "^CPIN" && op == "?":
		code := "READY"
		if m.sim.pukRequired {
			code = "SIM PUK"
		} else if !m.v.simReady {
			code = "SIM PIN"
		}
		return []string{"^CPIN: " + code + ",," + puk + "," + pin + ",10,3"}, nil
	case name == "+ZPINPUK" && (op == "=?" || op == "?"):
		return []string{"+ZPINPUK: " + pin + "," + puk}, nil
	}
	return nil, &resError
}

// registrationDelay is how long registration takes now.
func (m *Modem) registrationDelay() time.Duration {
	if m.fault == FaultSlowRegistration {
		return m.cfg.SlowRegistrationDelay
	}
	return m.cfg.RegistrationDelay
}

// regStat is the 27.007 registration status all of +CREG/+CGREG/+CEREG show.
func (m *Modem) regStat(now time.Time) int {
	if !m.booted || m.fault == FaultSIMRemoved || !m.v.simReady || m.v.cfun != 1 || m.v.regStart.IsZero() {
		return 0
	}
	if m.fault == FaultRegDenied {
		return 3
	}
	if now.Before(m.v.regStart.Add(m.registrationDelay())) {
		return 2
	}
	if m.cfg.Roaming {
		return 5
	}
	return 1
}

var regMax = map[string]int{"+CREG": 2, "+CGREG": 2, "+CEREG": 5}

func (m *Modem) cmdReg(now time.Time, name, op string, args []string) ([]string, *result) {
	switch op {
	case "?":
		n, stat := m.v.regN[name], m.regStat(now)
		line := name + ": " + strconv.Itoa(n) + "," + strconv.Itoa(stat)
		if n >= 2 && (stat == 1 || stat == 5) {
			line += m.location(name)
		}
		return []string{line}, nil
	case "=?":
		return []string{name + ": (0-" + strconv.Itoa(regMax[name]) + ")"}, nil
	case "=":
		n, err := strconv.Atoi(strings.TrimSpace(args[0]))
		if err != nil || n < 0 || n > regMax[name] {
			return nil, m.cme(cmeBadParams)
		}
		m.v.regN[name] = n
		return nil, nil
	}
	return nil, &resError
}

// location is the ",<lac>,<ci>[,<AcT>]" tail of a registration line.
func (m *Modem) location(name string) string {
	s := `,"00A1","0000BEEF"`
	if name != "+CREG" {
		s += "," + strconv.Itoa(m.cfg.AcT)
	}
	return s
}

// regChanged sends +CxREG: URCs for every enabled kind when the status moved.
func (m *Modem) regChanged(now time.Time) {
	stat := m.regStat(now)
	if stat == m.v.lastStat {
		return
	}
	m.log.Info("registration", "stat", stat)
	m.tr.add("** registration stat " + strconv.Itoa(stat))
	m.v.lastStat = stat
	if m.v.online || m.v.pending != nil {
		return
	}
	for _, name := range []string{"+CREG", "+CGREG", "+CEREG"} {
		if n := m.v.regN[name]; n >= 1 {
			line := name + ": " + strconv.Itoa(stat)
			if n >= 2 && (stat == 1 || stat == 5) {
				line += m.location(name)
			}
			m.urc(line)
		}
	}
}

// scheduleURC picks the moment of the next random unsolicited line.
func (m *Modem) scheduleURC(now time.Time) {
	m.nextURC = time.Time{}
	if m.cfg.URCMeanInterval > 0 {
		gap := time.Duration(m.rng.ExpFloat64() * float64(m.cfg.URCMeanInterval))
		m.nextURC = now.Add(max(gap, time.Millisecond))
	}
}

// randomURC sends one random unsolicited line when its time has come, only
// in command mode and between responses, as real modems do.
func (m *Modem) randomURC(now time.Time) {
	if m.nextURC.IsZero() || now.Before(m.nextURC) {
		return
	}
	m.scheduleURC(now)
	if m.v.online || m.v.pending != nil || m.silent() {
		return
	}
	switch m.rng.IntN(4) {
	case 0:
		m.urc("RING")
	case 1:
		if m.v.regN["+CREG"] >= 1 {
			m.urc("+CREG: " + strconv.Itoa(m.regStat(now)))
		}
	case 2:
		m.urc("^RSSI: " + strconv.Itoa(m.rng.IntN(32)))
	default:
		m.urc("^BOOT:20952214,0,0,0,72")
	}
}
