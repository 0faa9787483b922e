package pppd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The test binary doubles as a fake pppd: FAKE_PPPD selects its behaviour.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_PPPD"); mode != "" {
		fakePPPD(mode)
		return
	}
	os.Exit(m.Run())
}

func fakePPPD(mode string) {
	switch {
	case strings.HasPrefix(mode, "exit:"):
		code, _ := strconv.Atoi(strings.TrimPrefix(mode, "exit:"))
		for i := 1; i <= 60; i++ {
			fmt.Fprintf(os.Stderr, "log line %d\n", i)
		}
		fmt.Fprintln(os.Stdout, "on the tty")
		os.Exit(code)
	case mode == "env":
		for _, kv := range os.Environ() {
			fmt.Fprintln(os.Stderr, kv)
		}
		fmt.Fprintln(os.Stderr, "args:", strings.Join(os.Args[1:], " "))
	case mode == "term": // like pppd: SIGTERM -> exit 5
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Fprintln(os.Stderr, "ready")
		<-c
		fmt.Fprintln(os.Stderr, "Terminating on signal 15")
		os.Exit(ExitUserRequest)
	case mode == "stubborn": // ignores SIGTERM and leaves a child behind
		signal.Ignore(syscall.SIGTERM)
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), "FAKE_PPPD=sleep")
		if err := child.Start(); err != nil {
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "child %d\n", child.Process.Pid)
		fmt.Fprintln(os.Stderr, "ready")
		time.Sleep(time.Hour)
	case mode == "hold": // like a held pppd: loads, reads its last options file, then the tty
		fmt.Fprintln(os.Stderr, "args:", strings.Join(os.Args[1:], " "))
		fmt.Fprintln(os.Stderr, "loaded")
		opts, err := os.ReadFile(os.Args[len(os.Args)-1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(ExitOptionError)
		}
		fmt.Fprintf(os.Stderr, "options: %q\n", opts)
		fmt.Fprintln(os.Stdout, "on the tty")
	case mode == "sleep":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
	}
}

func fakeOptions(t *testing.T, mode string) Options {
	t.Setenv("FAKE_PPPD", mode)
	return Options{Path: os.Args[0], Unit: 3, Linkname: "test"}
}

func devNull(t *testing.T) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestArgs(t *testing.T) {
	got := Args(Options{
		Unit: 1, Linkname: "failberry", LCPEchoInterval: 10, LCPEchoFailure: 3, PeerDNS: true,
		MTU: 1400, Debug: true, Baud: 115200,
		Extra: []string{"persist", "novj", "defaultroute", "demand", "replacedefaultroute", "user", "x"},
	})
	want := []string{"115200", "nodetach", "logfd", "2", "noauth", "noipdefault", "nodefaultroute",
		"novj", "noccp", "lcp-restart", "1", "connect-delay", "0", "modem",
		"unit", "1", "linkname", "failberry", "lcp-echo-interval", "10", "lcp-echo-failure", "3",
		"usepeerdns", "mtu", "1400", "debug", "novj", "user", "x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Args (-want +got):\n%s", diff)
	}
	got = Args(Options{Local: true, HardwareFlow: true})
	want = []string{"nodetach", "logfd", "2", "noauth", "noipdefault", "nodefaultroute",
		"novj", "noccp", "lcp-restart", "1", "connect-delay", "0", "local", "crtscts", "unit", "0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Args zero (-want +got):\n%s", diff)
	}
	if Interface(Options{Unit: 2}) != "ppp2" {
		t.Error(Interface(Options{Unit: 2}))
	}
}

func TestExitErrorMeaning(t *testing.T) {
	tests := []struct {
		e    ExitError
		want string
	}{
		{ExitError{Code: 15}, "pppd exited 15: peer dead (no answer to LCP echo)"},
		{ExitError{Code: 16, Log: []string{"Modem hangup"}}, "pppd exited 16: modem hung up (last log: Modem hangup)"},
		{ExitError{Code: 10}, "pppd exited 10: PPP negotiation failed"},
		{ExitError{Code: 4}, "pppd exited 4: no kernel PPP support (is the ppp_generic module loaded?)"},
		{ExitError{Code: 99}, "pppd exited 99: unknown exit status"},
		{ExitError{Code: -1, Signal: "killed"}, "pppd killed by signal killed"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestExitCodeAndLog(t *testing.T) {
	p, err := Start(context.Background(), fakeOptions(t, "exit:16"), devNull(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitHangup || ee.Signal != "" {
		t.Fatalf("Wait = %v", err)
	}
	if len(ee.Log) != LogLines || ee.Log[0] != "log line 11" || ee.Log[LogLines-1] != "log line 60" {
		t.Errorf("log ring = %d lines, %q .. %q", len(ee.Log), ee.Log[0], ee.Log[len(ee.Log)-1])
	}
	select {
	case <-p.Done():
	default:
		t.Error("Done not closed after Wait")
	}
}

func TestExitZero(t *testing.T) {
	p, err := Start(context.Background(), fakeOptions(t, "exit:0"), devNull(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("Wait = %v", err)
	}
}

func TestEnvStripped(t *testing.T) {
	for k, v := range map[string]string{"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_PID": "1", "WATCHDOG_USEC": "1000", "LISTEN_FDS": "1", "LISTEN_PID": "1", "KEEP_ME": "yes"} {
		t.Setenv(k, v)
	}
	p, err := Start(context.Background(), fakeOptions(t, "env"), devNull(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	log := strings.Join(p.Log(), "\n")
	for _, bad := range []string{"NOTIFY_SOCKET", "WATCHDOG_", "LISTEN_"} {
		if strings.Contains(log, bad) {
			t.Errorf("child saw %s:\n%s", bad, log)
		}
	}
	if !strings.Contains(log, "KEEP_ME=yes") || !strings.Contains(log, "args: nodetach logfd 2") {
		t.Errorf("child env/args missing:\n%s", log)
	}
}

// waitLog waits until pppd logged want.
func waitLog(t *testing.T, p *Process, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range p.Log() {
			if l == want {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pppd never logged %q: %q", want, p.Log())
}

func TestStopTerm(t *testing.T) {
	p, err := Start(context.Background(), fakeOptions(t, "term"), devNull(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "ready")
	if err := p.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	var ee *ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Code != ExitUserRequest {
		t.Fatalf("Wait = %v", err)
	}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

func TestStopKillsStubbornGroup(t *testing.T) {
	p, err := Start(context.Background(), fakeOptions(t, "stubborn"), devNull(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "ready")
	var child int
	for _, l := range p.Log() {
		fmt.Sscanf(l, "child %d", &child)
	}
	if err := p.Stop(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var ee *ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Signal != "killed" || ee.Code != -1 {
		t.Fatalf("Wait = %v", err)
	}
	if syscall.Kill(p.Pid(), 0) == nil {
		t.Errorf("pppd %d still exists", p.Pid())
	}
	// The grandchild was re-parented (to init or a subreaper): give it time to die.
	deadline := time.Now().Add(10 * time.Second)
	for child > 0 && !gone("/proc", child) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of pppd survived Stop", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("fake pppd did not report its child")
	}
}

func TestContextCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, fakeOptions(t, "term"), devNull(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "ready")
	cancel()
	var ee *ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Code != ExitUserRequest {
		t.Fatalf("Wait = %v", err)
	}
}

func TestStartMissingBinary(t *testing.T) {
	_, err := Start(context.Background(), Options{Path: "/nonexistent/pppd"}, devNull(t), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Start = %v", err)
	}
	if _, err := Start(context.Background(), Options{}, nil, nil); err == nil {
		t.Fatal("Start without tty succeeded")
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "NOTIFY_SOCKET=x", "LISTEN_FDNAMES=a", "WATCHDOG_USEC=1", "WATCHDOG_PID=2", "LISTENER=ok", "garbage"})
	want := []string{"PATH=/bin", "LISTENER=ok", "garbage"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("childEnv (-want +got):\n%s", diff)
	}
}
