package modem

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCSQ(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Signal
		wantErr bool
	}{
		{in: "+CSQ: 20,99", want: Signal{RSSI: 20, BER: 99, DBM: -73, Known: true}},
		{in: "+CSQ: 0,0", want: Signal{RSSI: 0, BER: 0, DBM: -113, Known: true}},
		{in: "+CSQ: 31,7", want: Signal{RSSI: 31, BER: 7, DBM: -51, Known: true}},
		{in: "+CSQ: 99,99", want: Signal{RSSI: 99, BER: 99}},
		{in: "+CSQ: 45,99", want: Signal{RSSI: 45, BER: 99}},
		{in: "18,99", want: Signal{RSSI: 18, BER: 99, DBM: -77, Known: true}},
		{in: "+CSQ: ", wantErr: true},
		{in: "+CSQ: a,b", wantErr: true},
		{in: "+CSQ: 1,2,3", wantErr: true},
	} {
		got, err := ParseCSQ(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseCSQ(%q) = %+v, %v; want %+v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseCPIN(t *testing.T) {
	for in, want := range map[string]SIMState{
		"+CPIN: READY": SIMReady, "+CPIN: SIM PIN": SIMPINRequired, "+CPIN: SIM PUK": SIMPUKRequired,
		"+CPIN: SIM PIN2": SIMPIN2Required, "+CPIN: SIM PUK2": SIMPUK2Required,
		"+CPIN: PH-NET PIN": SIMPhoneLocked, `+CPIN: "READY"`: SIMReady, "READY": SIMReady,
	} {
		if got, err := ParseCPIN(in); err != nil || got != want {
			t.Errorf("ParseCPIN(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "+CPIN:", "+CPIN: BANANA"} {
		if got, err := ParseCPIN(in); err == nil {
			t.Errorf("ParseCPIN(%q) = %v, want error", in, got)
		}
	}
}

func TestParseCREG(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Registration
	}{
		{`+CREG: 0,1`, Registration{Source: "CREG", N: 0, Stat: RegHome, Solicited: true}},
		{`+CREG: 1`, Registration{Source: "CREG", N: -1, Stat: RegHome}},
		{`+CGREG: 2,"1A2B","01C3F00",2`, Registration{Source: "CGREG", N: -1, Stat: RegSearching, LAC: "1A2B", CI: "01C3F00", AcT: AcTUTRAN}},
		{`+CGREG: 2,5,"1A2B","01C3F00",6`, Registration{Source: "CGREG", N: 2, Stat: RegRoaming, LAC: "1A2B", CI: "01C3F00", AcT: AcTHSPA, Solicited: true}},
		{`+CEREG: 2,1,"00C3","0A1B2C3D",7`, Registration{Source: "CEREG", N: 2, Stat: RegHome, LAC: "00C3", CI: "0A1B2C3D", AcT: AcTLTE, Solicited: true}},
		{`+CEREG: 3`, Registration{Source: "CEREG", N: -1, Stat: RegDenied}},
		{`+CEREG: 1,10`, Registration{Source: "CEREG", N: 1, Stat: RegRoamingCSFBNotPreferred, Solicited: true}},
	} {
		got, err := ParseCREG(tc.in)
		if err != nil {
			t.Errorf("ParseCREG(%q): %v", tc.in, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseCREG(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, in := range []string{"", "+CREG:", "+CREG: x", "+COPS: 0", "CREG 1", `+CREG: "1"`} {
		if got, err := ParseCREG(in); err == nil {
			t.Errorf("ParseCREG(%q) = %+v, want error", in, got)
		}
	}
}

func TestRegStat(t *testing.T) {
	for s, want := range map[RegStat][2]bool{
		RegNotRegistered: {false, false}, RegHome: {true, false}, RegSearching: {false, false},
		RegDenied: {false, false}, RegUnknown: {false, false}, RegRoaming: {true, true},
		RegHomeSMSOnly: {false, false}, RegRoamingSMSOnly: {false, true}, RegEmergencyOnly: {false, false},
		RegHomeCSFBNotPreferred: {true, false}, RegRoamingCSFBNotPreferred: {true, true}, 42: {false, false},
	} {
		if got := [2]bool{s.Registered(), s.Roaming()}; got != want {
			t.Errorf("%v: registered, roaming = %v, want %v", s, got, want)
		}
	}
	if RegStat(42).String() != "RegStat(42)" || RegRoaming.String() != "roaming" {
		t.Errorf("String: %q %q", RegStat(42), RegRoaming)
	}
}

func TestParseCOPS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Operator
	}{
		{`+COPS: 0,0,"Vodafone UK",2`, Operator{Mode: 0, Format: 0, Name: "Vodafone UK", AcT: AcTUTRAN}},
		{`+COPS: 0,2,"23415",7`, Operator{Format: 2, Name: "23415", AcT: AcTLTE}},
		{`+COPS: 0,0,"O2 - UK"`, Operator{Name: "O2 - UK"}},
		{`+COPS: 1,0,"Op, with comma",0`, Operator{Mode: 1, Name: "Op, with comma", AcT: AcTGSM}},
		{`+COPS: 0,0,"X",3`, Operator{Name: "X", AcT: AcTEDGE}},
		{`+COPS: 0,0,"X",4`, Operator{Name: "X", AcT: AcTHSDPA}},
		{`+COPS: 0,0,"X",5`, Operator{Name: "X", AcT: AcTHSUPA}},
		{`+COPS: 0,0,"X",6`, Operator{Name: "X", AcT: AcTHSPA}},
		{`+COPS: 0,0,"X",99`, Operator{Name: "X"}},
		{`+COPS: 2`, Operator{Mode: 2}},
	} {
		got, err := ParseCOPS(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseCOPS(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	names := map[AccessTech]string{AcTGSM: "GSM", AcTUTRAN: "UTRAN", AcTEDGE: "EDGE", AcTHSDPA: "HSDPA",
		AcTHSUPA: "HSUPA", AcTHSPA: "HSPA", AcTLTE: "LTE", AcTUnknown: "unknown"}
	for a, want := range names {
		if a.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(a), a, want)
		}
	}
	if _, err := ParseCOPS("+COPS: ?"); err == nil {
		t.Error("ParseCOPS garbage: no error")
	}
}
