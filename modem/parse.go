package modem

import (
	"fmt"
	"strconv"
	"strings"
)

// field is one comma-separated value of an AT response.
type field struct {
	val    string
	quoted bool
}

func (f field) int() (int, error) { return strconv.Atoi(strings.TrimSpace(f.val)) }

// splitFields splits "1,\"a,b\",3" into fields, keeping commas inside quotes.
func splitFields(s string) []field {
	var out []field
	var cur strings.Builder
	quoted, inQuote := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			quoted = true
		case c == ',' && !inQuote:
			out = append(out, field{strings.TrimSpace(cur.String()), quoted})
			cur.Reset()
			quoted = false
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, field{strings.TrimSpace(cur.String()), quoted})
}

// payload strips "+NAME:" from line if present, so parsers accept both the
// whole response line and its value.
func payload(line, prefix string) string {
	line = strings.TrimSpace(line)
	if len(line) >= len(prefix) && strings.EqualFold(line[:len(prefix)], prefix) {
		return strings.TrimSpace(line[len(prefix):])
	}
	return line
}

// Signal is the +CSQ reading. Known is false for rssi 99 (not detectable) or
// any value outside 0..31; DBM is then 0.
type Signal struct {
	RSSI, BER, DBM int
	Known          bool
}

// ParseCSQ parses "+CSQ: <rssi>,<ber>"; dBm = -113 + 2*rssi (27.007 8.5).
func ParseCSQ(line string) (Signal, error) {
	f := splitFields(payload(line, "+CSQ:"))
	if len(f) != 2 {
		return Signal{}, fmt.Errorf("parse +CSQ %q: want 2 fields", line)
	}
	rssi, err1 := f[0].int()
	ber, err2 := f[1].int()
	if err1 != nil || err2 != nil {
		return Signal{}, fmt.Errorf("parse +CSQ %q: not numbers", line)
	}
	s := Signal{RSSI: rssi, BER: ber}
	if rssi >= 0 && rssi <= 31 {
		s.DBM, s.Known = -113+2*rssi, true
	}
	return s, nil
}

// SIMState is what AT+CPIN? (or its +CME ERROR) says about the SIM.
// The zero value means not yet known.
type SIMState int

// SIM states, from +CPIN: codes and the SIM-related +CME errors.
const (
	SIMUnknown SIMState = iota
	SIMReady
	SIMPINRequired
	SIMPUKRequired
	SIMPIN2Required
	SIMPUK2Required
	SIMPhoneLocked // PH-SIM PIN, PH-NET PIN and the other device personalisation locks
	SIMNotInserted
	SIMFailure
	SIMBusy
)

var simNames = [...]string{"unknown", "ready", "PIN required", "PUK required",
	"PIN2 required", "PUK2 required", "phone locked", "not inserted", "failure", "busy"}

// String names the state for logs and status pages.
func (s SIMState) String() string {
	if s < 0 || int(s) >= len(simNames) {
		return "SIMState(" + strconv.Itoa(int(s)) + ")"
	}
	return simNames[s]
}

// ParseCPIN parses "+CPIN: <code>" (READY, SIM PIN, SIM PUK, ...).
func ParseCPIN(line string) (SIMState, error) {
	code := strings.ToUpper(strings.Trim(payload(line, "+CPIN:"), `" `))
	switch {
	case code == "READY":
		return SIMReady, nil
	case code == "SIM PIN":
		return SIMPINRequired, nil
	case code == "SIM PUK":
		return SIMPUKRequired, nil
	case code == "SIM PIN2":
		return SIMPIN2Required, nil
	case code == "SIM PUK2":
		return SIMPUK2Required, nil
	case strings.HasPrefix(code, "PH-") || strings.HasPrefix(code, "PH "):
		return SIMPhoneLocked, nil
	}
	return SIMUnknown, fmt.Errorf("parse +CPIN %q: unknown code", line)
}

// RegStat is the <stat> of +CREG/+CGREG/+CEREG (27.007 7.2, 10.1.20, 10.1.22).
type RegStat int

// Registration states; 6..10 are the LTE-era SMS-only, emergency and CSFB variants.
const (
	RegNotRegistered           RegStat = 0
	RegHome                    RegStat = 1
	RegSearching               RegStat = 2
	RegDenied                  RegStat = 3
	RegUnknown                 RegStat = 4
	RegRoaming                 RegStat = 5
	RegHomeSMSOnly             RegStat = 6
	RegRoamingSMSOnly          RegStat = 7
	RegEmergencyOnly           RegStat = 8
	RegHomeCSFBNotPreferred    RegStat = 9
	RegRoamingCSFBNotPreferred RegStat = 10
)

var regNames = [...]string{"not registered", "home", "searching", "denied", "unknown",
	"roaming", "home (SMS only)", "roaming (SMS only)", "emergency only",
	"home (CSFB not preferred)", "roaming (CSFB not preferred)"}

// String names the state for logs.
func (s RegStat) String() string {
	if s < 0 || int(s) >= len(regNames) {
		return "RegStat(" + strconv.Itoa(int(s)) + ")"
	}
	return regNames[s]
}

// Registered reports whether packet data can be used: home or roaming,
// including the CSFB-not-preferred variants (data works, voice fallback does not).
// SMS-only and emergency-only registrations do not carry data.
func (s RegStat) Registered() bool {
	return s == RegHome || s == RegRoaming || s == RegHomeCSFBNotPreferred || s == RegRoamingCSFBNotPreferred
}

// Roaming reports whether the registration is on a visited network.
func (s RegStat) Roaming() bool {
	return s == RegRoaming || s == RegRoamingSMSOnly || s == RegRoamingCSFBNotPreferred
}

// Registration is one +CREG/+CGREG/+CEREG line. N is -1 for the unsolicited
// form, which has no <n>. LAC and CI are the hex strings without quotes.
type Registration struct {
	Source    string // "CREG", "CGREG" or "CEREG"
	N         int
	Stat      RegStat
	LAC, CI   string
	AcT       AccessTech
	Solicited bool
}

// ParseCREG parses a +CREG:, +CGREG: or +CEREG: line in its solicited
// ("<n>,<stat>[,<lac>,<ci>[,<AcT>]]") or unsolicited ("<stat>[,...]") form.
func ParseCREG(line string) (Registration, error) {
	s := strings.TrimSpace(line)
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return Registration{}, fmt.Errorf("parse registration %q: no prefix", line)
	}
	src := strings.ToUpper(strings.TrimPrefix(s[:i], "+"))
	if src != "CREG" && src != "CGREG" && src != "CEREG" {
		return Registration{}, fmt.Errorf("parse registration %q: unknown prefix", line)
	}
	r := Registration{Source: src, N: -1}
	f := splitFields(s[i+1:])
	if solicitedRegForm(s) {
		n, _ := f[0].int()
		r.N, r.Solicited, f = n, true, f[1:]
	}
	stat, err := f[0].int()
	if err != nil || f[0].quoted || stat < 0 || stat > 255 {
		return Registration{}, fmt.Errorf("parse registration %q: bad <stat>", line)
	}
	r.Stat = RegStat(stat)
	if len(f) >= 3 {
		r.LAC, r.CI = f[1].val, f[2].val
	}
	if len(f) >= 4 {
		if act, err := f[3].int(); err == nil {
			r.AcT = accessTech(act)
		}
	}
	return r, nil
}

// AccessTech is a radio access technology. Its value is the 27.007 <AcT>
// number plus one, so the zero value means unknown.
type AccessTech int

// Access technologies of 27.007 <AcT> (AcTGSM is <AcT> 0).
const (
	AcTUnknown AccessTech = iota
	AcTGSM
	AcTGSMCompact
	AcTUTRAN
	AcTEDGE
	AcTHSDPA
	AcTHSUPA
	AcTHSPA
	AcTLTE
	AcTECGSMIoT
	AcTNBIoT
	AcTLTE5GCN
	AcTNR5GCN
	AcTNGRAN
	AcTENDC
)

var actNames = [...]string{"unknown", "GSM", "GSM Compact", "UTRAN", "EDGE", "HSDPA",
	"HSUPA", "HSPA", "LTE", "EC-GSM-IoT", "NB-IoT", "LTE (5GCN)", "NR (5GCN)", "NG-RAN", "EN-DC"}

// String names the technology as status pages show it.
func (a AccessTech) String() string {
	if a < 0 || int(a) >= len(actNames) {
		return "AccessTech(" + strconv.Itoa(int(a)) + ")"
	}
	return actNames[a]
}

// accessTech converts a 27.007 <AcT> number.
func accessTech(n int) AccessTech {
	if n < 0 || n+1 >= len(actNames) {
		return AcTUnknown
	}
	return AccessTech(n + 1)
}

// Operator is the +COPS? reply. Format is 0 long alphanumeric, 1 short,
// 2 numeric (MCC+MNC); Name is empty when the modem is not registered.
type Operator struct {
	Mode, Format int
	Name         string
	AcT          AccessTech
}

// ParseCOPS parses "+COPS: <mode>[,<format>,<oper>[,<AcT>]]".
func ParseCOPS(line string) (Operator, error) {
	f := splitFields(payload(line, "+COPS:"))
	mode, err := f[0].int()
	if err != nil {
		return Operator{}, fmt.Errorf("parse +COPS %q: bad <mode>", line)
	}
	op := Operator{Mode: mode}
	if len(f) >= 3 {
		op.Format, _ = f[1].int()
		op.Name = f[2].val
	}
	if len(f) >= 4 {
		if act, err := f[3].int(); err == nil {
			op.AcT = accessTech(act)
		}
	}
	return op, nil
}
