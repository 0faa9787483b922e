package notify

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		key  string // "" for no error
		msg  string
	}{
		{"defaults", func(*Config) {}, "", ""},
		{"mqtt", func(c *Config) { c.MQTT.Broker = "mqtt://192.168.1.5:1883" }, "", ""},
		{"wss with tls", func(c *Config) { c.MQTT.Broker, c.MQTT.CAFile = "wss://b.example/mqtt", "/etc/ca.pem" }, "", ""},
		{"bad scheme", func(c *Config) { c.MQTT.Broker = "tcp://b:1883" }, "notify.mqtt.broker", "use mqtt://"},
		{"no host", func(c *Config) { c.MQTT.Broker = "mqtt:broker" }, "notify.mqtt.broker", "not a broker URL"},
		{"wildcard topic", func(c *Config) { c.MQTT.Broker, c.MQTT.Topic = "mqtt://b", "house/+" }, "notify.mqtt.topic", "wildcard"},
		{"empty level", func(c *Config) { c.MQTT.Broker, c.MQTT.Topic = "mqtt://b", "house/" }, "notify.mqtt.topic", "empty level"},
		{"bad discovery prefix", func(c *Config) { c.MQTT.Broker, c.MQTT.DiscoveryPrefix = "mqtt://b", "#" }, "notify.mqtt.discovery_prefix", "wildcard"},
		{"password without user", func(c *Config) { c.MQTT.Broker, c.MQTT.PasswordFile = "mqtt://b", "/etc/p" }, "notify.mqtt.username", "required"},
		{"relative ca", func(c *Config) { c.MQTT.Broker, c.MQTT.CAFile = "mqtts://b", "ca.pem" }, "notify.mqtt.ca_file", "absolute"},
		{"ca without tls", func(c *Config) { c.MQTT.Broker, c.MQTT.CAFile = "mqtt://b", "/ca.pem" }, "notify.mqtt.broker", "not TLS"},
		{"cert without key", func(c *Config) { c.MQTT.Broker, c.MQTT.CertFile = "mqtts://b", "/c.pem" }, "notify.mqtt.cert_file", "together"},
		{"webhook", func(c *Config) {
			c.Webhook.URL = "https://ntfy.sh/x"
			c.Webhook.Headers = []Header{{Name: "Authorization", File: "/etc/t"}}
		}, "", ""},
		{"webhook scheme", func(c *Config) { c.Webhook.URL = "ftp://x/y" }, "notify.webhook.url", "http(s)"},
		{"header both", func(c *Config) {
			c.Webhook.URL = "http://x/"
			c.Webhook.Headers = []Header{{Name: "A", Value: "v", File: "/f"}}
		}, "notify.webhook.headers[0]", "one of value and file"},
		{"header name", func(c *Config) {
			c.Webhook.URL = "http://x/"
			c.Webhook.Headers = []Header{{Name: "A: b", Value: "v"}}
		}, "notify.webhook.headers[0].name", "not a header name"},
		{"hooks dir", func(c *Config) { c.Hooks.Dir = "hooks.d" }, "notify.hooks.dir", "absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Check()
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			ke, ok := err.(*KeyError)
			if !ok {
				t.Fatalf("Check = %v, want a *KeyError for %s", err, tc.key)
			}
			if key, msg := ke.ConfigKey(); key != tc.key || !strings.Contains(msg, tc.msg) {
				t.Errorf("Check = %s: %s, want %s: ...%s...", key, msg, tc.key, tc.msg)
			}
		})
	}
}

func TestSkipHook(t *testing.T) {
	for name, skip := range map[string]bool{
		"10-notify": false, "notify.sh": false, "up_down": false,
		".notify.swp": true, "notify~": true, "#notify#": true, "notify.bak": true,
		"notify.dpkg-old": true, "notify.dpkg-dist": true, "notify.ucf-dist": true, "notify.orig": true,
	} {
		if got := skipHook(name); got != skip {
			t.Errorf("skipHook(%q) = %v, want %v", name, got, skip)
		}
	}
}
