package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/config"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem/sim"
)

// TestScenarioHookSeesLinkUp: the daemon's link-up event reaches a real
// hook, with its journal fields in the environment.
func TestScenarioHookSeesLinkUp(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "seen")
	hook := "#!/bin/sh\necho \"$FAILBERRY_EVENT $FAILBERRY_INTERFACE $FAILBERRY_LOCAL $FAILBERRY_MESSAGE_ID\" >> " + out + "\n"
	if err := os.WriteFile(filepath.Join(dir, "10-record"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sim.Config{}, func(c *config.Config) { c.Notify.Hooks.Dir = dir })
	h.start()
	_, w := h.session()
	w.fn(route.Link{Name: "ppp0", Index: 7, Up: true, Local: cellLocal, Peer: cellPeer})
	want := "link-up ppp0 " + cellLocal.String() + " bf5914265007478997244ad30c2eaabf"
	eventually(t, "the hook's record of link-up", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), want+"\n")
	})
	h.stop()
}

func TestReadings(t *testing.T) {
	dbm := -71
	s := health.Status{State: "online", Modem: health.ModemStatus{Operator: "Telia", AccessTech: "LTE", SignalDBM: &dbm},
		Link: health.LinkStatus{Up: true, BytesIn: 10, BytesOut: 20}, Inbound: health.InboundStatus{Address: "203.0.113.2"}}
	got := map[string]string{}
	for _, r := range readings(s, "replace") {
		got[r.Key] = r.Value
	}
	want := map[string]string{"state": "online", "link": "ON", "active_link": "cellular", "signal": "-71", "operator": "Telia",
		"access_tech": "LTE", "address": "203.0.113.2", "bytes_in": "10", "bytes_out": "20"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, r := range readings(health.Status{State: strings.Repeat("x", 300)}, "metric") {
		switch r.Key {
		case "signal":
			if r.Value != "" {
				t.Errorf("unknown signal = %q, want empty (unknown)", r.Value)
			}
		case "link", "active_link":
			if r.Value != map[string]string{"link": "OFF", "active_link": "wired"}[r.Key] {
				t.Errorf("%s = %q with the link down", r.Key, r.Value)
			}
		case "state":
			if len(r.Value) != maxStateText {
				t.Errorf("state of %d bytes, want at most %d", len(r.Value), maxStateText)
			}
		}
	}
}
