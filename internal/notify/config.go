package notify

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/failberry/failberry/internal/config/value"
)

// Config is the `notify:` section of failberry.yaml: where events and state
// go besides the journal. Start from DefaultConfig: hooks on (an empty
// directory runs nothing), MQTT and the webhook off until a broker or a URL
// is set. Secrets are never in this struct, only the paths of files that
// hold them, because failberry.yaml is readable by every user.
type Config struct {
	Hooks   HooksConfig   `yaml:"hooks"`
	MQTT    MQTTConfig    `yaml:"mqtt"`
	Webhook WebhookConfig `yaml:"webhook"`
}

// HooksConfig is notify.hooks: executables run on each event.
type HooksConfig struct {
	// Dir holds the hooks, run in lexical order; empty turns hooks off.
	Dir string `yaml:"dir"`
	// Timeout bounds one hook's run; its process group is killed then.
	Timeout value.Duration `yaml:"timeout" check:"100ms.." hint:"30s"`
}

// MQTTConfig is notify.mqtt: state and events on a broker, with Home
// Assistant discovery.
type MQTTConfig struct {
	// Broker is mqtt://host:1883, mqtts://host:8883, ws://host/path or
	// wss://host/path; empty turns MQTT off.
	Broker string `yaml:"broker"`
	// ClientID names the session at the broker; empty: failberry-<hostname>.
	ClientID string `yaml:"client_id"`
	// Topic is the prefix of every topic failberry publishes
	// (<topic>/state, <topic>/event/<kind>, <topic>/availability).
	Topic    string `yaml:"topic"`
	Username string `yaml:"username"`
	// PasswordFile holds the password (trailing newline ignored); read at
	// each connection, so a rotated password needs no restart.
	PasswordFile string `yaml:"password_file"`
	// CAFile is a PEM bundle to verify an mqtts/wss broker with; empty: the
	// system's roots. CertFile and KeyFile, both or neither, are a client
	// certificate.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Discovery publishes Home Assistant MQTT discovery configs under
	// DiscoveryPrefix, so the gateway appears there as a device.
	Discovery       bool   `yaml:"discovery"`
	DiscoveryPrefix string `yaml:"discovery_prefix"`
	// Interval is how often state that changes all the time (the byte
	// counters) is republished; a state change is published at once.
	Interval value.Duration `yaml:"interval" check:"1s.." hint:"30s"`
}

// WebhookConfig is notify.webhook: one JSON POST per event.
type WebhookConfig struct {
	// URL receives the POSTs (an ntfy topic, a Gotify or chat bot
	// endpoint); empty turns the webhook off.
	URL string `yaml:"url"`
	// Headers are sent with every POST; a header's value comes from Value
	// or, for a token, from File.
	Headers []Header `yaml:"headers" hint:"[{name: Authorization, file: /etc/failberry/webhook-token}]"`
	// QueueSize events wait while the receiver is down; beyond it the
	// newest are dropped (and counted in the log).
	QueueSize int `yaml:"queue_size" check:"1..100000" hint:"use how many events may wait for the receiver, such as 100"`
	// Timeout bounds one POST.
	Timeout value.Duration `yaml:"timeout" check:"100ms.." hint:"10s"`
}

// Header is one HTTP header of the webhook's POSTs.
type Header struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
	// File holds the value (trailing newline ignored), such as "Bearer
	// tk_...": it is read at each POST.
	File string `yaml:"file"`
}

// DefaultHooksDir is where the Debian package creates the hooks directory.
const DefaultHooksDir = "/etc/failberry/hooks.d"

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Hooks: HooksConfig{Dir: DefaultHooksDir, Timeout: value.Duration(30 * time.Second)},
		MQTT: MQTTConfig{Topic: "failberry", Discovery: true, DiscoveryPrefix: "homeassistant",
			Interval: value.Duration(30 * time.Second)},
		Webhook: WebhookConfig{QueueSize: 100, Timeout: value.Duration(10 * time.Second)},
	}
}

// KeyError is a problem with one key of the section, named under notify.
// The config package reports it at the key's line (ConfigKey).
type KeyError struct{ Key, Msg string }

func (e *KeyError) Error() string { return "notify." + e.Key + ": " + e.Msg }

// ConfigKey implements the config package's keyed errors.
func (e *KeyError) ConfigKey() (string, string) { return "notify." + e.Key, e.Msg }

func keyErr(key, format string, args ...any) *KeyError {
	return &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Check reports the first problem in c. Files are not opened here: they are
// read when used (and a missing one is then a clear error in the log), so
// `failberry check` runs before the secrets are in place.
func (c Config) Check() error {
	if d := c.Hooks.Dir; d != "" && !filepath.IsAbs(d) {
		return keyErr("hooks.dir", "%q is not an absolute path; use such as %s (or \"\" for no hooks)", d, DefaultHooksDir)
	}
	if err := c.MQTT.check(); err != nil {
		return err
	}
	return c.Webhook.check()
}

func (m MQTTConfig) check() error {
	if m.Broker == "" {
		return nil
	}
	u, err := url.Parse(m.Broker)
	if err != nil || u.Host == "" {
		return keyErr("mqtt.broker", "%q is not a broker URL; write one such as mqtt://192.168.1.5:1883", m.Broker)
	}
	switch u.Scheme {
	case "mqtt", "mqtts", "ws", "wss":
	default:
		return keyErr("mqtt.broker", "%q has scheme %q; use mqtt://, mqtts:// (TLS), ws:// or wss://", m.Broker, u.Scheme)
	}
	if msg := checkTopic(m.Topic); msg != "" {
		return keyErr("mqtt.topic", "%s", msg)
	}
	if m.Discovery {
		if msg := checkTopic(m.DiscoveryPrefix); msg != "" {
			return keyErr("mqtt.discovery_prefix", "%s", msg)
		}
	}
	for key, p := range map[string]string{"password_file": m.PasswordFile, "ca_file": m.CAFile, "cert_file": m.CertFile, "key_file": m.KeyFile} {
		if p != "" && !filepath.IsAbs(p) {
			return keyErr("mqtt."+key, "%q is not an absolute path; write it in full, such as /etc/failberry/mqtt-password", p)
		}
	}
	if m.PasswordFile != "" && m.Username == "" {
		return keyErr("mqtt.username", "required with password_file; the broker's user name")
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		return keyErr("mqtt.cert_file", "set cert_file and key_file together, or neither")
	}
	if (m.CAFile != "" || m.CertFile != "") && u.Scheme != "mqtts" && u.Scheme != "wss" {
		return keyErr("mqtt.broker", "%q is not TLS but ca_file or cert_file is set; use mqtts:// or wss://", m.Broker)
	}
	return nil
}

// checkTopic says what is wrong with a topic prefix: MQTT topic names may
// not hold the wildcards + and #, nor NUL, and the prefix neither starts nor
// ends with a / (failberry adds its own levels) nor has an empty level.
func checkTopic(t string) string {
	switch {
	case t == "":
		return "is empty; use a topic such as failberry"
	case strings.ContainsAny(t, "+#\x00"):
		return fmt.Sprintf("%q holds a wildcard (+ or #) or NUL, which a topic name may not; use such as failberry/house", t)
	case strings.HasPrefix(t, "/") || strings.HasSuffix(t, "/") || strings.Contains(t, "//"):
		return fmt.Sprintf("%q has an empty level; write it without a leading, trailing or double /, such as failberry/house", t)
	case len(t) > 1024:
		return "is longer than 1024 bytes"
	}
	return ""
}

func (w WebhookConfig) check() error {
	if w.URL == "" {
		return nil
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return keyErr("webhook.url", "%q is not an http(s) URL; write one such as https://ntfy.sh/my-gateway", w.URL)
	}
	for i, h := range w.Headers {
		key := fmt.Sprintf("webhook.headers[%d]", i)
		switch {
		case h.Name == "" || strings.ContainsAny(h.Name, " :\r\n\t"):
			return keyErr(key+".name", "%q is not a header name; use such as Authorization", h.Name)
		case (h.Value == "") == (h.File == ""):
			return keyErr(key, "set one of value and file (file for a token)")
		case h.File != "" && !filepath.IsAbs(h.File):
			return keyErr(key+".file", "%q is not an absolute path; write it in full, such as /etc/failberry/webhook-token", h.File)
		case strings.ContainsAny(h.Value, "\r\n"):
			return keyErr(key+".value", "holds a line break")
		}
	}
	return nil
}
