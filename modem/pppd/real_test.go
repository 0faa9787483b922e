package pppd

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/failberry/failberry/internal/testenv"
)

// TestRealPPPD runs the installed pppd on a pty with nothing on the other
// end. Without kernel PPP (/dev/ppp missing) it must exit 4 at once; with it
// (the VM bench), LCP gets no answer and pppd must exit with a negotiation
// failure (10) or peer-dead (15) status after a few seconds.
func TestRealPPPD(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "pppd")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	o := Options{
		Unit: 97, Linkname: "failberry-test", Local: true,
		Extra: []string{"lcp-max-configure", "2", "lcp-restart", "1"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := Start(ctx, o, tty, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	go func() { // drain what pppd sends to the "modem"
		buf := make([]byte, 4096)
		for {
			if _, err := ptmx.Read(buf); err != nil {
				return
			}
		}
	}()
	err = p.Wait()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Wait = %v, want *ExitError", err)
	}
	t.Logf("pppd: %v; log: %q", ee, ee.Log)
	_, statErr := os.Stat("/dev/ppp")
	switch {
	case os.IsNotExist(statErr):
		if ee.Code != ExitNoKernelSupport {
			t.Errorf("without /dev/ppp: code %d, want %d", ee.Code, ExitNoKernelSupport)
		}
	case ee.Code != ExitNegotiationFailed && ee.Code != ExitPeerDead:
		t.Errorf("with kernel PPP: code %d, want %d or %d", ee.Code, ExitNegotiationFailed, ExitPeerDead)
	}
}
