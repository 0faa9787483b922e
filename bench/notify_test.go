//go:build bench

package bench_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
)

// Issue 17's "Done when", in one VM with the seed's topology (the Pi has a
// wired uplink through the main router, so the internet side stays
// reachable while the cellular link is down): a real mosquitto and a
// webhook receiver on the internet host, a hook in a directory.
const (
	brokerListen  = checker + ":1883"
	webhookListen = checker + ":8090"
	notifySection = `notify:
  hooks:
    dir: /mnt/hooks.d
    timeout: 5s
  mqtt:
    broker: mqtt://` + brokerListen + `
    topic: failberry
    interval: 5s
  webhook:
    url: http://` + webhookListen + `/failberry
    queue_size: 100
    timeout: 3s
`
	// recordHook appends each event's kind and MESSAGE_ID to a file.
	recordHook = "#!/bin/sh\necho \"$FAILBERRY_MESSAGE_ID $FAILBERRY_EVENT\" >> /mnt/hook-events\n"
)

func TestNotify(t *testing.T) {
	ctx, vm := startVMFor(t, sim.Config{}, true, 10*time.Minute)
	in := &inbound{t: t, root: t, ctx: ctx, vm: vm, cell: cellAddr1}
	waitGuest(t, ctx, vm, 90*time.Second, `systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active bench.target`)
	setupNetworks(t, ctx, vm)
	guest(t, ctx, vm, 20*time.Second, bench.Script("inbound.sh"))
	if err := os.MkdirAll(filepath.Join(vm.Work, "hooks.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vm.Work, "hooks.d", "10-record"), []byte(recordHook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vm.Work, "mosquitto.conf"), []byte(
		"user root\nlistener 1883 "+checker+"\nallow_anonymous true\npersistence false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broker := startMosquitto(t, in, 1)
	receiver := background(t, ctx, vm, "webhookd-1.log", `exec ip netns exec isp /mnt/bin/webhookd -listen `+webhookListen)
	background(t, ctx, vm, "mqtt-sub.log", `exec ip netns exec isp stdbuf -oL mosquitto_sub -h `+checker+` -F '%I %r %t %p' -t 'failberry/#' -t 'homeassistant/#'`)
	waitGuest(t, ctx, vm, 10*time.Second, `ip netns exec isp ss -Hltn | grep -q ' `+webhookListen+` '`)

	start := time.Now()
	in.startDaemon(inboundConfig("", notifySection))
	in.awaitCellAddr(t, cellAddr1, 90*time.Second)
	waitGuest(t, ctx, vm, 60*time.Second, bench.LanPing)
	t.Logf("scenario notify-online: failberry run -> cellular up, lan reaches internet in %v", since(start))

	in.scenario("mqtt-discovery-and-state", func(t *testing.T) {
		waitFor(t, 30*time.Second, "discovery and state at the broker", func() bool {
			m := lastByTopic(t, vm)
			// One publish round sends the readings one after another, and
			// the subscriber's log may hold only the first of them yet: wait
			// for the last one checked below too.
			return m["failberry/link"] == "ON" && m["failberry/availability"] == "online" && discovery(m, "binary_sensor", "link") != "" &&
				m["failberry/address"] == cellAddr1
		})
		m := lastByTopic(t, vm)
		var d struct {
			StateTopic        string `json:"state_topic"`
			AvailabilityTopic string `json:"availability_topic"`
			Device            struct{ Identifiers []string }
		}
		cfg := discovery(m, "binary_sensor", "link")
		if err := json.Unmarshal([]byte(cfg), &d); err != nil || d.StateTopic != "failberry/link" || d.AvailabilityTopic != "failberry/availability" || len(d.Device.Identifiers) != 1 {
			t.Errorf("link's discovery config: %s (%v)", cfg, err)
		}
		for _, key := range []string{"state", "signal", "operator", "access_tech", "address", "bytes_in", "bytes_out", "active_link"} {
			if discovery(m, "sensor", key) == "" {
				t.Errorf("no discovery config for sensor %s", key)
			}
			if _, ok := m["failberry/"+key]; !ok {
				t.Errorf("no state topic failberry/%s", key)
			}
		}
		if m["failberry/address"] != cellAddr1 || m["failberry/active_link"] != "cellular" || !strings.HasPrefix(m["failberry/state"], "online") {
			t.Errorf("state topics: address %q, active_link %q, state %q", m["failberry/address"], m["failberry/active_link"], m["failberry/state"])
		}
	})

	// The receiver goes down for 30 s, during which the link fails and
	// comes back: every event of that time arrives once it is back.
	var receiverDown time.Time
	in.scenario("link-down-up-after-pppd-kill", func(t *testing.T) {
		guest(t, ctx, vm, 10*time.Second, fmt.Sprintf("kill %d", receiver))
		receiverDown = time.Now()
		mark := len(subLines(t, vm))
		kill := time.Now()
		guest(t, ctx, vm, 10*time.Second, "kill -KILL "+strings.Join(pppdPids(t, ctx, vm), " "))
		// The events, then the retained state: link-down and link-up after the
		// kill, and the link ON again. The connection made over the cellular
		// link dies with it; the events wait for the next one.
		var down, up, off bool
		last := ""
		waitFor(t, 120*time.Second, "the subscriber sees link-down, link-up and failberry/link ON", func() bool {
			down, up, off, last = false, false, false, ""
			for _, l := range subLines(t, vm)[mark:] {
				switch {
				case l.topic == "failberry/event/link-down":
					down = true
				case l.topic == "failberry/event/link-up" && down:
					up = true
				case l.topic == "failberry/link":
					off, last = off || l.payload == "OFF", l.payload
				}
			}
			return down && up && last == "ON"
		})
		if !off {
			t.Errorf("failberry/link never went OFF at the broker after the kill")
		}
		t.Logf("pppd killed -> the subscriber saw link-down, link-up, failberry/link OFF then ON within %v (polled)", since(kill))
	})

	in.scenario("webhook-down-30s-none-lost", func(t *testing.T) {
		if receiverDown.IsZero() {
			t.Fatal("the receiver was never stopped: the scenario before it failed")
		}
		time.Sleep(time.Until(receiverDown.Add(30 * time.Second)))
		background(t, ctx, vm, "webhookd-2.log", `exec ip netns exec isp /mnt/bin/webhookd -listen `+webhookListen)
		var journal, posts []string
		ok := poll(60*time.Second, func() bool {
			journal, posts = journalEvents(t, in), webhookEvents(t, vm)
			return sameEvents(journal, posts)
		})
		if !ok {
			t.Fatalf("journal events and POSTs differ:\njournal %d: %v\nposts   %d: %v", len(journal), journal, len(posts), posts)
		}
		// The link's events happened while the receiver was down: they
		// reached its second run, which proves they waited.
		late := webhookEvents(t, vm, "webhookd-2.log")
		for _, k := range []string{"link-down", "link-up"} {
			if !slices.ContainsFunc(late, func(e string) bool { return strings.HasSuffix(e, " "+k) }) {
				t.Errorf("no %s reached the receiver after its 30 s down; it got %v", k, late)
			}
		}
		t.Logf("%d events, each POSTed once; %d of them waited for the receiver's 30 s down: %v", len(posts), len(late), late)
	})

	in.scenario("hook-sees-every-event", func(t *testing.T) {
		var journal, hooked []string
		ok := poll(20*time.Second, func() bool {
			journal, hooked = journalEvents(t, in), hookEvents(t, vm)
			return sameEvents(journal, hooked)
		})
		if !ok {
			t.Errorf("journal events and hook runs differ:\njournal %v\nhook    %v", journal, hooked)
		}
	})

	in.scenario("broker-restart-state-republished", func(t *testing.T) {
		guest(t, ctx, vm, 10*time.Second, fmt.Sprintf("kill %d; while kill -0 %d 2>/dev/null; do sleep 0.1; done", broker, broker))
		restart := time.Now()
		broker = startMosquitto(t, in, 2)
		// A broker without persistence starts empty: what a new subscriber
		// gets retained was published again after the restart.
		var out string
		waitFor(t, 120*time.Second, "retained state after the restart", func() bool {
			o, err := vm.Run(ctx, 10*time.Second, `ip netns exec isp mosquitto_sub -h `+checker+` -t failberry/link -t failberry/availability -t 'homeassistant/binary_sensor/+/link/config' -C 3 -W 3 -F '%t %r %p'`)
			out = o
			return err == nil && strings.Contains(o, "failberry/link 1 ON") && strings.Contains(o, "failberry/availability 1 online")
		})
		t.Logf("broker restarted -> retained state back in %v:\n%s", since(restart), out)
	})
}

func startMosquitto(t *testing.T, in *inbound, n int) int {
	t.Helper()
	pid := background(t, in.ctx, in.vm, fmt.Sprintf("mosquitto-%d.log", n), `exec ip netns exec isp mosquitto -c /mnt/mosquitto.conf`)
	waitGuest(t, in.ctx, in.vm, 10*time.Second, `ip netns exec isp ss -Hltn | grep -q ' `+brokerListen+` '`)
	return pid
}

type subLine struct{ topic, payload string }

// subLines are the messages the subscriber got, in order.
func subLines(t *testing.T, vm *bench.VM) []subLine {
	b, _ := os.ReadFile(filepath.Join(vm.Work, "mqtt-sub.log"))
	var out []subLine
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4) // time retained topic payload
		if len(f) == 4 {
			out = append(out, subLine{f[2], f[3]})
		}
	}
	return out
}

func lastByTopic(t *testing.T, vm *bench.VM) map[string]string {
	m := map[string]string{}
	for _, l := range subLines(t, vm) {
		m[l.topic] = l.payload
	}
	return m
}

// discovery is the discovery config of one entity, whatever the guest's
// host name made the node id.
func discovery(m map[string]string, component, key string) string {
	for topic, p := range m {
		if strings.HasPrefix(topic, "homeassistant/"+component+"/") && strings.HasSuffix(topic, "/"+key+"/config") {
			return p
		}
	}
	return ""
}

// journalEvents are failberry's events in the journal: "MESSAGE_ID kind".
func journalEvents(t *testing.T, in *inbound) []string {
	out := guest(t, in.ctx, in.vm, 20*time.Second, `journalctl --no-pager -o json SYSLOG_IDENTIFIER=failberry`)
	var evs []string
	for _, line := range strings.Split(out, "\n") {
		var e struct{ MESSAGE_ID, FAILBERRY_KIND string }
		if json.Unmarshal([]byte(line), &e) == nil && e.MESSAGE_ID != "" {
			evs = append(evs, e.MESSAGE_ID+" "+e.FAILBERRY_KIND)
		}
	}
	return evs
}

// webhookEvents are the POSTs the receiver got, "MESSAGE_ID kind", from its
// logs (names; default both runs).
func webhookEvents(t *testing.T, vm *bench.VM, names ...string) []string {
	if len(names) == 0 {
		names = []string{"webhookd-1.log", "webhookd-2.log"}
	}
	var evs []string
	for _, name := range names {
		b, _ := os.ReadFile(filepath.Join(vm.Work, name))
		for _, line := range strings.Split(string(b), "\n") {
			var e struct {
				ID   string `json:"message_id"`
				Kind string `json:"kind"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.ID != "" {
				evs = append(evs, e.ID+" "+e.Kind)
			}
		}
	}
	return evs
}

func hookEvents(t *testing.T, vm *bench.VM) []string {
	b, _ := os.ReadFile(filepath.Join(vm.Work, "hook-events"))
	var evs []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			evs = append(evs, l)
		}
	}
	return evs
}

// sameEvents compares two event lists as multisets: events emitted by two
// goroutines at once may reach the journal and an output in either order.
func sameEvents(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
