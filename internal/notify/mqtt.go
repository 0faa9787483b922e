package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/time/rate"
)

// mqttOut publishes to a broker through paho.mqtt.golang, which reconnects
// on its own. Topics, under the configured prefix T:
//
//	T/availability   online / offline (retained; offline is the last will,
//	                 so a daemon that dies shows as unavailable)
//	T/<reading>      each Reading's value (retained): T/state, T/link, ...
//	T/event/<kind>   each event as JSON, as it happens (not retained); the
//	                 last queueSize events that found the broker away are
//	                 sent when it is back, late rather than lost
//
// and, with discovery, one Home Assistant discovery config per reading
// under <discovery_prefix>/sensor|binary_sensor/<node>/<key>/config
// (retained), all of one device. On every (re)connection availability,
// discovery and every reading are published again, so a broker that lost
// its retained messages in a restart gets them back.
type mqttOut struct {
	cfg   MQTTConfig
	opts  *mqtt.ClientOptions
	node  string // the device's id in Home Assistant: the host name, sanitized
	host  string
	state func() []Reading
	log   *slog.Logger
	// connected is signalled (from paho's goroutine) on each connection.
	connected chan struct{}
	// rerouted is signalled by Notifier.Rerouted.
	rerouted chan struct{}
	// sent is the value last published per reading; cleared on connect.
	sent map[string]string
	// pending are events not yet published (the broker was away), oldest
	// first, at most queueSize: sent after the next connection, late
	// rather than lost.
	pending  []Event
	dropWarn rate.Sometimes
	// stale is set when a publish timed out: the connection is dead even
	// if paho has not noticed yet (see run).
	stale     bool
	lastCount time.Time // when the counters were last published
}

const (
	// mqttTimeout bounds one publish: a slow broker delays this output only.
	mqttTimeout = 5 * time.Second
	// statePoll is how often state is read for changes (in memory; only a
	// change is sent).
	statePoll = time.Second
)

func newMQTT(c MQTTConfig, o Options) (*mqttOut, error) {
	m := &mqttOut{cfg: c, node: nodeID(o.Hostname), host: o.Hostname, state: o.State,
		log: o.Logger.With("output", "mqtt"), connected: make(chan struct{}, 1), rerouted: make(chan struct{}, 1), sent: map[string]string{},
		dropWarn: rate.Sometimes{First: 1, Interval: time.Minute}}
	if m.state == nil {
		m.state = func() []Reading { return nil }
	}
	opts := mqtt.NewClientOptions().
		AddBroker(c.Broker).
		SetClientID(clientID(c, m.node)).
		SetCleanSession(true).
		SetStore(newCopyStore()).
		SetWill(m.topic("availability"), "offline", 1, true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(5 * time.Second).
		SetMaxReconnectInterval(time.Minute).
		SetConnectTimeout(mqttTimeout).
		SetWriteTimeout(mqttTimeout).
		SetKeepAlive(15 * time.Second).
		SetPingTimeout(5 * time.Second).
		SetOrderMatters(false). // callbacks must not block paho's reader
		SetOnConnectHandler(func(mqtt.Client) {
			select {
			case m.connected <- struct{}{}:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			m.log.Warn("mqtt connection lost; reconnecting", "broker", c.Broker, "err", err)
		})
	if c.Username != "" {
		opts.SetUsername(c.Username)
	}
	if c.PasswordFile != "" {
		if _, err := readSecretLine(c.PasswordFile); err != nil {
			return nil, fmt.Errorf("notify.mqtt.password_file: %w", err)
		}
		opts.SetCredentialsProvider(func() (string, string) {
			p, err := readSecretLine(c.PasswordFile)
			if err != nil {
				m.log.Warn("mqtt password", "err", err)
			}
			return c.Username, p
		})
	}
	if strings.HasPrefix(c.Broker, "mqtts:") || strings.HasPrefix(c.Broker, "wss:") {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(tc)
	}
	m.opts = opts
	return m, nil
}

// tlsConfig reads the CA bundle and the client certificate.
func tlsConfig(c MQTTConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("notify.mqtt.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify.mqtt.ca_file: %s holds no PEM certificate", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("notify.mqtt.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func clientID(c MQTTConfig, node string) string {
	if c.ClientID != "" {
		return c.ClientID
	}
	return "failberry-" + node
}

// nodeID makes a host name an MQTT topic level and a Home Assistant id.
func nodeID(host string) string {
	b := []byte(strings.ToLower(host))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

func (m *mqttOut) topic(level string) string { return m.cfg.Topic + "/" + level }

// run publishes until ctx ends. When the gateway fails over or back, the
// default route moves and a connection made over the old uplink is dead
// (its packets leave with an address the broker does not know), which
// paho's keepalive would only notice much later: so the connection is
// dropped and a new one opened when the daemon says the route moved
// (Rerouted), and when a publish times out.
func (m *mqttOut) run(ctx context.Context, q *queue) {
	client := mqtt.NewClient(m.opts)
	client.Connect() // retries in paho's goroutine until it connects
	defer func() { m.close(client) }()
	poll := time.NewTicker(statePoll)
	defer poll.Stop()
	for {
		m.checkRerouted()
		if m.stale {
			m.log.Info("mqtt connection stale; reconnecting", "broker", m.cfg.Broker)
			client.Disconnect(0)
			client, m.stale = mqtt.NewClient(m.opts), false
			client.Connect()
		}
		select {
		case <-ctx.Done():
			return
		case <-m.connected:
			m.log.Info("mqtt connected", "broker", m.cfg.Broker)
			m.sent = map[string]string{}
			m.publish(client, m.topic("availability"), true, "online")
			if m.cfg.Discovery {
				m.discover(client)
			}
			m.publishState(client, true)
			m.publishEvents(client)
		case <-m.rerouted:
			m.stale = true
		case ev := <-q.ch:
			m.checkRerouted()             // Rerouted comes before the event it goes with
			m.publishState(client, false) // the change the event is about first
			m.pending = append(m.pending, ev)
			m.publishEvents(client)
		case <-poll.C:
			m.publishState(client, time.Since(m.lastCount) >= time.Duration(m.cfg.Interval))
		}
	}
}

// checkRerouted marks the connection stale when the route moved.
func (m *mqttOut) checkRerouted() {
	select {
	case <-m.rerouted:
		m.stale = true
	default:
	}
}

// publishEvents sends the pending events in order, keeping those that fail.
func (m *mqttOut) publishEvents(c mqtt.Client) {
	for len(m.pending) > 0 {
		ev := m.pending[0]
		b, err := json.Marshal(ev)
		if err == nil && !m.publish(c, m.topic("event/"+ev.Kind), false, string(b)) {
			break
		}
		m.pending = m.pending[1:]
	}
	if n := len(m.pending) - queueSize; n > 0 {
		m.dropWarn.Do(func() { m.log.Warn("mqtt broker away; oldest events dropped", "dropped", n) })
		m.pending = slices.Delete(m.pending, 0, n)
	}
}

// publishState sends the readings that changed since they were last sent;
// counters only when withCounters.
func (m *mqttOut) publishState(c mqtt.Client, withCounters bool) {
	if !c.IsConnectionOpen() {
		return
	}
	if withCounters {
		m.lastCount = time.Now()
	}
	for _, r := range m.state() {
		v := r.Value
		if v == "" {
			v = "None" // Home Assistant's unknown
		}
		if old, ok := m.sent[r.Key]; (ok && old == v) || (r.Counter && ok && !withCounters) {
			continue
		}
		if m.publish(c, m.topic(r.Key), true, v) {
			m.sent[r.Key] = v
		}
	}
}

// publish sends one message and waits for it at most mqttTimeout.
func (m *mqttOut) publish(c mqtt.Client, topic string, retained bool, payload string) bool {
	if m.stale || !c.IsConnectionOpen() {
		return false
	}
	t := c.Publish(topic, 1, retained, payload)
	if !t.WaitTimeout(mqttTimeout) {
		m.stale = true
		return false
	}
	if err := t.Error(); err != nil {
		m.log.Warn("mqtt publish", "topic", topic, "err", err)
		return false
	}
	return true
}

// close says offline (the will covers a crash) and disconnects.
func (m *mqttOut) close(c mqtt.Client) {
	m.publish(c, m.topic("availability"), true, "offline")
	c.Disconnect(500)
}

// discoveryConfig is a Home Assistant MQTT discovery payload.
type discoveryConfig struct {
	Name              string          `json:"name"`
	UniqueID          string          `json:"unique_id"`
	ObjectID          string          `json:"object_id"`
	StateTopic        string          `json:"state_topic"`
	AvailabilityTopic string          `json:"availability_topic"`
	Unit              string          `json:"unit_of_measurement,omitempty"`
	DeviceClass       string          `json:"device_class,omitempty"`
	StateClass        string          `json:"state_class,omitempty"`
	Icon              string          `json:"icon,omitempty"`
	PayloadOn         string          `json:"payload_on,omitempty"`
	PayloadOff        string          `json:"payload_off,omitempty"`
	Device            discoveryDevice `json:"device"`
}

type discoveryDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
}

// discover publishes one discovery config per reading.
func (m *mqttOut) discover(c mqtt.Client) {
	dev := discoveryDevice{Identifiers: []string{"failberry_" + m.node}, Name: "failberry " + m.host,
		Manufacturer: "failberry", Model: "cellular failover gateway"}
	for _, r := range m.state() {
		component := "sensor"
		cfg := discoveryConfig{Name: r.Name, UniqueID: "failberry_" + m.node + "_" + r.Key, ObjectID: "failberry_" + m.node + "_" + r.Key,
			StateTopic: m.topic(r.Key), AvailabilityTopic: m.topic("availability"),
			Unit: r.Unit, DeviceClass: r.DeviceClass, StateClass: r.StateClass, Icon: r.Icon, Device: dev}
		if r.Binary {
			component, cfg.PayloadOn, cfg.PayloadOff = "binary_sensor", "ON", "OFF"
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			continue
		}
		m.publish(c, strings.Join([]string{m.cfg.DiscoveryPrefix, component, m.node, r.Key, "config"}, "/"), true, string(b))
	}
}
