package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/failberry/failberry/internal/testenv"
)

// broker is a real mosquitto on a loopback port, with a password file.
type broker struct {
	t    *testing.T
	conf string
	addr string
	cmd  *exec.Cmd
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
		if _, err := os.Stat(bin); err != nil {
			testenv.Skip(t, "mosquitto not installed (apt-get install mosquitto)")
		}
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command(filepath.Join(filepath.Dir(bin), "../bin/mosquitto_passwd"), "-c", "-b", pw, "gw", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	if err := os.Chmod(pw, 0o600); err != nil {
		t.Fatal(err)
	}
	b := &broker{t: t, addr: freeAddr(t), conf: filepath.Join(dir, "mosquitto.conf")}
	_, port, _ := net.SplitHostPort(b.addr)
	conf := fmt.Sprintf("user root\nlistener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\n", port, pw)
	if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.start(bin)
	t.Cleanup(b.stop)
	return b
}

func (b *broker) start(bin string) {
	b.t.Helper()
	b.cmd = exec.Command(bin, "-c", b.conf)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", b.addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatal("mosquitto did not listen on " + b.addr)
}

// restart kills the broker (its retained messages die with it: no
// persistence) and starts it again on the same port.
func (b *broker) restart() {
	path := b.cmd.Path
	b.stop()
	b.start(path)
}

func (b *broker) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	}
}

// subscriber records the last payload per topic, retained or not.
type subscriber struct {
	mu   sync.Mutex
	last map[string]string
	c    mqtt.Client
}

func subscribe(t *testing.T, addr string) *subscriber {
	t.Helper()
	s := &subscriber{last: map[string]string{}}
	o := mqtt.NewClientOptions().AddBroker("mqtt://" + addr).SetClientID(fmt.Sprintf("sub-%d", time.Now().UnixNano())).
		SetUsername("gw").SetPassword("s3cret")
	s.c = mqtt.NewClient(o)
	if tok := s.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	tok := s.c.Subscribe("#", 1, func(_ mqtt.Client, m mqtt.Message) {
		s.mu.Lock()
		s.last[m.Topic()] = string(m.Payload())
		s.mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { s.c.Disconnect(0) })
	return s
}

// wait waits until topic's last payload satisfies ok.
func (s *subscriber) wait(t *testing.T, topic string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s.mu.Lock()
		v, seen := s.last[topic]
		s.mu.Unlock()
		if seen && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last payload %q (seen %v), not the one wanted", topic, v, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func is(want string) func(string) bool { return func(v string) bool { return v == want } }

// Against a real mosquitto: discovery, retained state, a change, an event,
// a broker restart (state republished) and offline at stop.
func TestMQTTRealBroker(t *testing.T) {
	b := startBroker(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	link := "ON"
	state := func() []Reading {
		mu.Lock()
		defer mu.Unlock()
		return []Reading{
			{Key: "link", Name: "Cellular link", Value: link, Binary: true, DeviceClass: "connectivity"},
			{Key: "signal", Name: "Signal", Value: "-71", Unit: "dBm", DeviceClass: "signal_strength"},
			{Key: "operator", Name: "Operator"}, // unknown
		}
	}
	c := DefaultConfig()
	c.Hooks.Dir = ""
	c.MQTT.Broker, c.MQTT.Topic, c.MQTT.Username, c.MQTT.PasswordFile = "mqtt://"+b.addr, "house/gw", "gw", pw
	n, err := New(c, Options{Logger: slog.New(slog.DiscardHandler), State: state, Hostname: "Gate.way"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	s := subscribe(t, b.addr)
	s.wait(t, "house/gw/availability", is("online"))
	s.wait(t, "house/gw/link", is("ON"))
	s.wait(t, "house/gw/operator", is("None"))
	cfg := s.wait(t, "homeassistant/binary_sensor/gate_way/link/config", func(string) bool { return true })
	var d discoveryConfig
	if err := json.Unmarshal([]byte(cfg), &d); err != nil {
		t.Fatal(err)
	}
	if d.StateTopic != "house/gw/link" || d.AvailabilityTopic != "house/gw/availability" || d.PayloadOn != "ON" ||
		d.DeviceClass != "connectivity" || len(d.Device.Identifiers) != 1 || d.Device.Identifiers[0] != "failberry_gate_way" {
		t.Errorf("binary_sensor discovery = %s", cfg)
	}
	sig := s.wait(t, "homeassistant/sensor/gate_way/signal/config", func(string) bool { return true })
	if !strings.Contains(sig, `"unit_of_measurement":"dBm"`) || !strings.Contains(sig, `"identifiers":["failberry_gate_way"]`) {
		t.Errorf("signal discovery = %s", sig)
	}

	mu.Lock()
	link = "OFF"
	mu.Unlock()
	n.Publish(Event{Kind: "link-down", ID: "3d216599fc544696a7292addaa60e644", Message: "down", Fields: map[string]string{"INTERFACE": "ppp0"}})
	s.wait(t, "house/gw/link", is("OFF"))
	ev := s.wait(t, "house/gw/event/link-down", func(string) bool { return true })
	if !strings.Contains(ev, `"message_id":"3d216599fc544696a7292addaa60e644"`) || !strings.Contains(ev, `"INTERFACE":"ppp0"`) {
		t.Errorf("event payload = %s", ev)
	}

	// The broker forgets everything; the state comes back on reconnection.
	b.restart()
	fresh := subscribe(t, b.addr)
	fresh.wait(t, "house/gw/link", is("OFF"))
	fresh.wait(t, "house/gw/availability", is("online"))
	fresh.wait(t, "homeassistant/binary_sensor/gate_way/link/config", func(string) bool { return true })

	cancel()
	<-done
	fresh.wait(t, "house/gw/availability", is("offline"))
}

// A broker that does not answer never delays Publish.
func TestMQTTBrokerDownPublishDoesNotBlock(t *testing.T) {
	c := DefaultConfig()
	c.Hooks.Dir = ""
	c.MQTT.Broker = "mqtt://" + freeAddr(t)
	n, err := New(c, Options{Hostname: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	start := time.Now()
	for range 10 * queueSize {
		n.Publish(Event{Kind: "k"})
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("publishing with the broker down took %v", took)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end with the broker down")
	}
}

// Files the config names are read at start, with errors that name the key.
func TestMQTTFilesReadAtStart(t *testing.T) {
	c := DefaultConfig()
	c.MQTT.Broker, c.MQTT.Username, c.MQTT.PasswordFile = "mqtts://b:8883", "gw", "/nonexistent/pw"
	if _, err := New(c, Options{}); err == nil || !strings.Contains(err.Error(), "notify.mqtt.password_file") {
		t.Errorf("New with a missing password file = %v", err)
	}
	c.MQTT.PasswordFile, c.MQTT.CAFile = "", filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(c.MQTT.CAFile, []byte("not pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, Options{}); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("New with a bad CA file = %v", err)
	}
}

// proxy forwards TCP to a target; freeze blackholes the connections open
// now (as a failover does to a connection made over the old uplink) while
// new ones pass.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen map[int]bool
	n      int
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, frozen: map[int]bool{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			id := p.n
			p.n++
			p.mu.Unlock()
			go p.pipe(id, c, u)
			go p.pipe(id, u, c)
		}
	}()
	return p
}

func (p *proxy) pipe(id int, from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			to.Close()
			return
		}
		p.mu.Lock()
		frozen := p.frozen[id]
		p.mu.Unlock()
		if !frozen {
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

func (p *proxy) freeze() {
	p.mu.Lock()
	for id := range p.n {
		p.frozen[id] = true
	}
	p.mu.Unlock()
}

// A connection that silently died (the route moved under it) is replaced
// at the first publish that times out, well before paho's keepalive would
// notice; the event that found it dead is sent on the new one.
func TestMQTTDeadConnectionReplaced(t *testing.T) {
	t.Run("publish-timeout", func(t *testing.T) { testDeadConnection(t, false, 12*time.Second) })
	// Told that the route moved, it does not wait for a timeout.
	t.Run("rerouted", func(t *testing.T) { testDeadConnection(t, true, 3*time.Second) })
}

func testDeadConnection(t *testing.T, reroute bool, within time.Duration) {
	b := startBroker(t)
	px := newProxy(t, b.addr)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	link := "ON"
	c := DefaultConfig()
	c.Hooks.Dir = ""
	c.MQTT.Broker, c.MQTT.Username, c.MQTT.PasswordFile, c.MQTT.Discovery = "mqtt://"+px.ln.Addr().String(), "gw", pw, false
	n, err := New(c, Options{Hostname: "gw", State: func() []Reading {
		mu.Lock()
		defer mu.Unlock()
		return []Reading{{Key: "link", Value: link, Binary: true}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	s := subscribe(t, b.addr)
	s.wait(t, "failberry/link", is("ON"))

	px.freeze()
	mu.Lock()
	link = "OFF"
	mu.Unlock()
	start := time.Now()
	if reroute {
		n.Rerouted()
	}
	n.Publish(Event{Kind: "link-down", ID: "3d216599fc544696a7292addaa60e644", Message: "down"})
	s.wait(t, "failberry/link", is("OFF"))
	s.wait(t, "failberry/event/link-down", func(v string) bool { return strings.Contains(v, `"message":"down"`) })
	// paho alone: a ping after 15 s without traffic, 5 s for its answer.
	if took := time.Since(start); took > within {
		t.Errorf("state and event reached the broker %v after the connection died; want within %v", took, within)
	}
}
