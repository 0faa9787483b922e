package modem

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// bringupRun runs Bringup on a transcript and checks the transcript was
// followed exactly (so "nothing else was sent" is checked too).
func bringupRun(t *testing.T, transcript string, cfg BringupConfig, pins PINStore) (Info, []Info, string, error) {
	t.Helper()
	port := newScriptPort(t, transcript)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := NewEngine(port, EngineOptions{Logger: log, Timeout: time.Second})
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = time.Second
	}
	var progress []Info
	info, err := Bringup(context.Background(), e, cfg, pins, func(i Info) { progress = append(progress, i) })
	port.check(t)
	if cfg.PIN != "" && (strings.Contains(logs.String(), cfg.PIN) || (err != nil && strings.Contains(err.Error(), cfg.PIN))) {
		t.Errorf("PIN %s leaked: err %v, logs:\n%s", cfg.PIN, err, logs.String())
	}
	return info, progress, logs.String(), err
}

var ident = Info{Manufacturer: "huawei", Model: "E3531", Revision: "22.521.23.00.00"}

func withIdent(i Info) Info {
	i.Manufacturer, i.Model, i.Revision = ident.Manufacturer, ident.Model, ident.Revision
	i.EscapeGuard = ShortGuard // bringup_wake.txt's modem takes ATS12=10
	return i
}

func TestBringupOK(t *testing.T) {
	cfg := BringupConfig{APN: "internet", Init: []string{"AT^CURC=0"}}
	info, progress, _, err := bringupRun(t, "bringup_ok.txt", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := withIdent(Info{SIM: SIMReady, Reg: RegHome, RegSource: "CGREG", Operator: "Vodafone",
		AcT: AcTUTRAN, RSSI: 20, SignalDBM: -73, SignalKnown: true})
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}
	if len(progress) < 3 || progress[len(progress)-1] != info {
		t.Errorf("progress: %+v", progress)
	}
}

func TestBringupPINOK(t *testing.T) {
	store := NewFilePINStore(filepath.Join(t.TempDir(), "pins"))
	info, _, _, err := bringupRun(t, "bringup_pin_ok.txt", BringupConfig{PIN: "1234", APN: "internet"}, store)
	if err != nil {
		t.Fatal(err)
	}
	if info.SIM != SIMReady || info.RegSource != "CGREG" {
		t.Errorf("info %+v", info)
	}
	if store.Rejected("1234") {
		t.Error("accepted PIN marked rejected")
	}
}

func TestBringupWrongPINSentOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "rejected-pins")
	store := NewFilePINStore(path)
	cfg := BringupConfig{PIN: "1111", APN: "internet"}
	_, _, _, err := bringupRun(t, "bringup_pin_wrong.txt", cfg, store)
	if !errors.Is(err, ErrIncorrectPassword) {
		t.Fatalf("first bring-up: %v, want ErrIncorrectPassword", err)
	}
	if !strings.Contains(err.Error(), `AT+CPIN="****": +CME ERROR: 16 (incorrect password)`) {
		t.Errorf("error text: %v", err)
	}
	// same store: the PIN is not sent again (the transcript has no AT+CPIN=)
	_, _, _, err = bringupRun(t, "bringup_pin_locked_out.txt", cfg, store)
	if !errors.Is(err, ErrPINRejectedBefore) {
		t.Errorf("second bring-up: %v, want ErrPINRejectedBefore", err)
	}
	// a new store on the same file (daemon restart): still not sent
	_, _, _, err = bringupRun(t, "bringup_pin_locked_out.txt", cfg, NewFilePINStore(path))
	if !errors.Is(err, ErrPINRejectedBefore) {
		t.Errorf("after restart: %v, want ErrPINRejectedBefore", err)
	}
	// a different PIN is allowed through
	if NewFilePINStore(path).Rejected("2222") {
		t.Error("a different PIN is marked rejected")
	}
}

func TestBringupNoPINConfigured(t *testing.T) {
	_, _, _, err := bringupRun(t, "bringup_pin_locked_out.txt", BringupConfig{}, nil)
	if !errors.Is(err, ErrSIMPINRequired) || !strings.Contains(err.Error(), "modem.pin") {
		t.Errorf("err %v, want ErrSIMPINRequired mentioning modem.pin", err)
	}
}

func TestBringupPUKNeverGuessed(t *testing.T) {
	_, _, _, err := bringupRun(t, "bringup_puk.txt", BringupConfig{PIN: "1234"}, NewFilePINStore(filepath.Join(t.TempDir(), "p")))
	if !errors.Is(err, ErrSIMPUKRequired) {
		t.Errorf("err %v, want ErrSIMPUKRequired", err)
	}
}

func TestBringupNoSIM(t *testing.T) {
	info, _, _, err := bringupRun(t, "bringup_nosim.txt", BringupConfig{}, nil)
	if !errors.Is(err, ErrSIMNotInserted) || info.SIM != SIMNotInserted {
		t.Errorf("err %v, SIM %v; want ErrSIMNotInserted", err, info.SIM)
	}
}

func TestBringupRoaming(t *testing.T) {
	info, _, _, err := bringupRun(t, "bringup_roaming.txt", BringupConfig{APN: "orange"}, nil)
	if !errors.Is(err, ErrRoamingNotAllowed) || info.Reg != RegRoaming || info.RegSource != "CEREG" {
		t.Errorf("refused: err %v, info %+v", err, info)
	}
	info, _, _, err = bringupRun(t, "bringup_roaming_ok.txt",
		BringupConfig{APN: "orange", PDPType: "ipv4v6", AllowRoaming: true}, nil)
	if err != nil || info.Reg != RegRoaming || info.AcT != AcTLTE || info.Operator != "Orange F" {
		t.Errorf("allowed: err %v, info %+v", err, info)
	}
}

func TestBringupDenied(t *testing.T) {
	info, _, _, err := bringupRun(t, "bringup_denied.txt", BringupConfig{}, nil)
	if !errors.Is(err, ErrRegistrationDenied) || info.Reg != RegDenied {
		t.Errorf("err %v, info %+v", err, info)
	}
}

func TestBringupRegistrationTimeout(t *testing.T) {
	info, _, _, err := bringupRun(t, "bringup_timeout.txt", BringupConfig{RegistrationTimeout: time.Second}, nil)
	if !errors.Is(err, ErrNotRegistered) || info.Reg != RegSearching {
		t.Errorf("err %v, info %+v", err, info)
	}
}

func TestBringupRegistrationURC(t *testing.T) {
	info, _, _, err := bringupRun(t, "bringup_urc_reg.txt", BringupConfig{APN: "internet", RegistrationTimeout: time.Minute}, nil)
	if err != nil || info.RegSource != "CEREG" || info.Reg != RegHome {
		t.Errorf("err %v, info %+v", err, info)
	}
}

func TestBringupWake(t *testing.T) {
	cfg := BringupConfig{CommandTimeout: 150 * time.Millisecond}
	_, _, _, err := bringupRun(t, "bringup_quiet.txt", cfg, nil)
	if !errors.Is(err, ErrError) || !strings.Contains(err.Error(), "ATZ") {
		t.Errorf("quiet modem: %v, want ATZ: ERROR", err)
	}
	_, _, _, err = bringupRun(t, "bringup_silent.txt", cfg, nil)
	if !errors.Is(err, ErrNoResponse) {
		t.Errorf("silent modem: %v, want ErrNoResponse", err)
	}
}

func TestBringupBadConfig(t *testing.T) {
	for _, cfg := range []BringupConfig{
		{PIN: "12"}, {PIN: `12"4`}, {PIN: "abcd"}, {APN: `in"ternet`}, {PDPType: "PPP"},
		{CID: 300}, {Init: []string{"AT\rATD123"}},
	} {
		port := newScriptPort(t, "bringup_silent.txt")
		_, err := Bringup(context.Background(), NewEngine(port, EngineOptions{}), cfg, nil, nil)
		if err == nil {
			t.Errorf("%+v: no error", cfg)
		}
		if len(port.written) > 0 || port.i > 0 {
			t.Errorf("%+v: wrote to the modem", cfg)
		}
	}
}

func TestBringupPINTimeoutCountsAsRejected(t *testing.T) {
	store := NewFilePINStore(filepath.Join(t.TempDir(), "p"))
	cfg := BringupConfig{PIN: "1111", CommandTimeout: 200 * time.Millisecond}
	_, _, _, err := bringupRun(t, "bringup_pin_timeout.txt", cfg, store)
	if !errors.Is(err, ErrTimeout) || !store.Rejected("1111") {
		t.Errorf("err %v, rejected %v; want ErrTimeout and the PIN marked", err, store.Rejected("1111"))
	}
}
